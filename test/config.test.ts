import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ConfigError, loadConfig, readEnvironment } from '../src/config.js';
import {
  parseDatabaseUrl,
  parseDuration,
  parseInteger,
  parseMailFrom,
  parsePublicUrl,
  parseRpId,
  parseTrustProxy,
} from '../src/config-parsers.js';
import { tempDir } from './temp-dir.js';

const LONG_SECRET = 's'.repeat(40);

describe('configuration parsers (property-based)', () => {
  it('parseDuration reads every unit and rejects everything else', () => {
    const units = { '': 1, s: 1, m: 60, h: 3600, d: 86400 } as const;
    fc.assert(
      fc.property(
        fc.nat({ max: 999_999 }),
        fc.constantFrom(...(Object.keys(units) as (keyof typeof units)[])),
        (n, unit) => {
          assert.equal(parseDuration(`${n}${unit}`), n * units[unit]);
        },
      ),
    );
    fc.assert(
      fc.property(fc.string(), (raw) => {
        const value = parseDuration(raw);
        if (!/^\s*\d{1,9}[smhd]?\s*$/.test(raw)) assert.equal(value, undefined, raw);
        else assert.ok(Number.isSafeInteger(value) && (value ?? -1) >= 0);
      }),
    );
    for (const bad of ['-5', '1.5', '15 m', '15min', 'm', '', '1w']) assert.equal(parseDuration(bad), undefined, bad);
  });

  it('parseInteger accepts exactly the whole numbers inside its bounds', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1e6, max: 1e6 }),
        fc.integer({ min: -1000, max: 1000 }),
        fc.nat({ max: 5000 }),
        (n, min, span) => {
          const max = min + span;
          assert.equal(parseInteger(String(n), min, max), n >= min && n <= max ? n : undefined);
        },
      ),
    );
    fc.assert(
      fc.property(fc.string(), (raw) => {
        const value = parseInteger(raw, -1e9, 1e9);
        assert.ok(value === undefined || Number.isSafeInteger(value));
      }),
    );
  });

  it('parseDatabaseUrl understands sqlite:, SQLAlchemy sqlite:/// and sqlite:////, and postgres URLs', () => {
    assert.deepEqual(parseDatabaseUrl('sqlite:./data/x.db', '/srv'), { kind: 'sqlite', file: '/srv/data/x.db' });
    assert.deepEqual(parseDatabaseUrl('sqlite:///instance/app.db', '/srv'), {
      kind: 'sqlite',
      file: '/srv/instance/app.db',
    });
    assert.deepEqual(parseDatabaseUrl('sqlite:////var/lib/app.db', '/srv'), {
      kind: 'sqlite',
      file: '/var/lib/app.db',
    });
    assert.deepEqual(parseDatabaseUrl('postgres://u@h:5432/db', '/srv'), {
      kind: 'postgres',
      url: 'postgres://u@h:5432/db',
    });
    assert.deepEqual(parseDatabaseUrl('postgresql://u@h/db', '/srv'), { kind: 'postgres', url: 'postgresql://u@h/db' });
    for (const bad of ['mysql://x', 'sqlite:', 'sqlite://', 'sqlite::memory:', 'file.db', '']) {
      assert.equal(parseDatabaseUrl(bad, '/srv'), undefined, bad);
    }
    fc.assert(
      fc.property(fc.string(), (raw) => {
        const target = parseDatabaseUrl(raw, '/srv');
        if (target?.kind === 'sqlite') assert.ok(target.file.startsWith('/'), 'SQLite paths always come out absolute');
      }),
    );
  });

  it('parseTrustProxy takes booleans, hop counts and address lists only', () => {
    assert.equal(parseTrustProxy('true'), true);
    assert.equal(parseTrustProxy('false'), false);
    assert.equal(parseTrustProxy('2'), 2);
    assert.deepEqual(parseTrustProxy('10.0.0.0/8, 127.0.0.1'), ['10.0.0.0/8', '127.0.0.1']);
    assert.equal(parseTrustProxy('everyone'), undefined);
  });

  it('parseMailFrom takes one address, alone or with a display name, on one line', () => {
    assert.equal(parseMailFrom('no-reply@example.com'), 'no-reply@example.com');
    assert.equal(parseMailFrom('Tessera <no-reply@example.com>'), 'Tessera <no-reply@example.com>');
    for (const bad of ['', 'nobody', 'a@b.c\r\nBcc: x@y.z', 'Name <not an address>', `${'a'.repeat(400)}@x.io`]) {
      assert.equal(parseMailFrom(bad), undefined, bad);
    }
    fc.assert(
      fc.property(fc.string(), (raw) => {
        const parsed = parseMailFrom(raw);
        if (parsed !== undefined) assert.ok(!/[\r\n]/.test(parsed) && parsed.includes('@'));
      }),
    );
  });

  it('parsePublicUrl keeps http(s) origins with a path, never a trailing slash, credentials, query or fragment', () => {
    assert.equal(parsePublicUrl('https://auth.example.com/'), 'https://auth.example.com');
    assert.equal(parsePublicUrl('http://127.0.0.1:5000'), 'http://127.0.0.1:5000');
    assert.equal(parsePublicUrl('https://example.com/auth//'), 'https://example.com/auth');
    for (const bad of [
      'ftp://example.com',
      'https://u:p@example.com',
      'https://example.com/?a=1',
      'https://example.com/#x',
      '/relative',
      'javascript:alert(1)',
    ]) {
      assert.equal(parsePublicUrl(bad), undefined, bad);
    }
    fc.assert(
      fc.property(fc.oneof(fc.webUrl({ withQueryParameters: true, withFragments: true }), fc.string()), (raw) => {
        const parsed = parsePublicUrl(raw);
        if (parsed === undefined) return;
        const url = new URL(parsed);
        assert.ok(url.protocol === 'http:' || url.protocol === 'https:');
        assert.ok(!parsed.endsWith('/') && !url.search && !url.hash && !url.username && !url.password);
        // Stable: what it returns, it accepts unchanged.
        assert.equal(parsePublicUrl(parsed), parsed);
      }),
    );
  });
});

describe('PASSKEY_RP_ID (property-based)', () => {
  it("takes PUBLIC_URL's host or a parent domain of it, never another site, a bare suffix or an IP address", () => {
    assert.equal(parseRpId('example.com', 'auth.example.com'), 'example.com');
    assert.equal(parseRpId('Auth.Example.com', 'auth.example.com'), 'auth.example.com');
    for (const [raw, host] of [
      ['ample.com', 'auth.example.com'],
      ['evil.com', 'auth.example.com'],
      ['other.example.com', 'auth.example.com'],
      ['127.0.0.1', '127.0.0.1'],
      ['.example.com', 'auth.example.com'],
      ['example.com.', 'auth.example.com'],
      ['https://example.com', 'auth.example.com'],
      ['example.com/path', 'auth.example.com'],
    ]) {
      assert.equal(parseRpId(raw ?? '', host ?? ''), undefined, `${raw} for ${host}`);
    }
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
    fc.assert(
      fc.property(fc.array(label, { minLength: 1, maxLength: 4 }), fc.string({ maxLength: 30 }), (labels, raw) => {
        const host = labels.join('.');
        const id = parseRpId(raw, host);
        if (id !== undefined) assert.ok(id === host || host.endsWith(`.${id}`), `${id} is not ${host} or its parent`);
        // Every parent domain of the host (that is not all digits) is accepted.
        for (let i = 0; i < labels.length; i++) {
          const parent = labels.slice(i).join('.');
          if (!/^[0-9.]+$/.test(parent)) assert.equal(parseRpId(parent, host), parent);
        }
      }),
    );
  });
});

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const dir = tempDir('tessera-config-');
    const { config } = loadConfig({ SECRET_KEY: LONG_SECRET }, dir);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.port, 5000);
    assert.equal(config.publicUrl, 'http://127.0.0.1:5000');
    assert.deepEqual(config.database, { kind: 'sqlite', file: join(dir, 'data', 'tessera.sqlite3') });
    assert.equal(config.jwt.algorithm, 'HS256');
    assert.equal(config.jwt.accessTtlSeconds, 900);
    assert.equal(config.jwt.refreshTtlSeconds, 30 * 86400);
    assert.equal(config.refreshReuseIntervalSeconds, 10);
    assert.equal(config.bodyLimitBytes, 16384);
    assert.deepEqual(config.password, { minLength: 8, maxLength: 256 });
    assert.deepEqual(config.argon2, {
      memoryKiB: 19456,
      iterations: 2,
      parallelism: 1,
      concurrency: Math.max(1, availableParallelism() - 1),
    });
  });

  it('reports every bad value, one line each', () => {
    const dir = tempDir('tessera-config-');
    const error = (() => {
      try {
        loadConfig(
          {
            SECRET_KEY: LONG_SECRET,
            PORT: 'eighty',
            ACCESS_TOKEN_TTL: 'soon',
            JWT_ALGORITHM: 'none',
            DATABASE_URL: 'mysql://x',
          },
          dir,
        );
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(error instanceof ConfigError);
    assert.equal(error.problems.length, 4);
    assert.match(error.message, /PORT="eighty"/);
    assert.match(error.message, /ACCESS_TOKEN_TTL="soon"/);
    assert.match(error.message, /JWT_ALGORITHM="none"/);
    assert.match(error.message, /DATABASE_URL="mysql:\/\/x"/);
  });

  it('has the browser defaults, and refuses bad cookie names, wildcard origins and a missing stylesheet', () => {
    const dir = tempDir('tessera-config-');
    const { config } = loadConfig({ SECRET_KEY: LONG_SECRET }, dir);
    assert.deepEqual(config.browser, {
      cookieNames: 'tessera',
      corsOrigins: [],
      pagesLanguage: 'en',
      pagesStylesheet: undefined,
    });
    const flask = loadConfig(
      { SECRET_KEY: LONG_SECRET, COOKIE_NAMES: 'Flask', CORS_ORIGINS: 'https://a.example ,https://a.example' },
      dir,
    );
    assert.equal(flask.config.browser.cookieNames, 'flask');
    assert.deepEqual(flask.config.browser.corsOrigins, ['https://a.example']);
    assert.throws(
      () =>
        loadConfig(
          { SECRET_KEY: LONG_SECRET, COOKIE_NAMES: 'django', CORS_ORIGINS: '*', PAGES_STYLESHEET: 'missing.css' },
          dir,
        ),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.problems.length === 3 &&
        /COOKIE_NAMES="django"/.test(error.message) &&
        /CORS_ORIGINS="\*"/.test(error.message) &&
        /PAGES_STYLESHEET/.test(error.message),
    );
  });

  it('outside production, generates a secret once into DATA_DIR with a warning, and reuses it', () => {
    const dir = tempDir('tessera-config-');
    const first = loadConfig({}, dir);
    assert.equal(first.warnings.length, 1);
    assert.match(first.warnings[0] ?? '', /SECRET_KEY is not set/);
    const file = join(dir, 'data', 'secret_key');
    assert.ok(existsSync(file));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.ok(first.config.secretKey.length >= 32);
    const second = loadConfig({}, dir);
    assert.equal(second.config.secretKey, first.config.secretKey);
    assert.deepEqual(second.warnings, []);
  });

  it('in production, a missing or short secret stops the start with a clear message', () => {
    const dir = tempDir('tessera-config-');
    assert.throws(() => loadConfig({ NODE_ENV: 'production' }, dir), /SECRET_KEY is required with NODE_ENV=production/);
    assert.throws(() => loadConfig({ NODE_ENV: 'production', SECRET_KEY: 'short' }, dir), /shorter than 32 bytes/);
    assert.equal(existsSync(join(dir, 'data', 'secret_key')), false, 'nothing is generated in production');
    assert.doesNotThrow(() =>
      loadConfig({ NODE_ENV: 'production', SECRET_KEY: LONG_SECRET, SMTP_URL: 'smtp://mail.example.com:587' }, dir),
    );
  });

  it('in production, refuses to start without SMTP_URL unless MAIL_DISABLED says mail is off on purpose', () => {
    const dir = tempDir('tessera-config-');
    const production = { NODE_ENV: 'production', SECRET_KEY: LONG_SECRET };
    assert.throws(() => loadConfig(production, dir), /SMTP_URL is required with NODE_ENV=production/);
    assert.equal(loadConfig({ ...production, MAIL_DISABLED: 'true' }, dir).config.mail.disabled, true);
    assert.throws(() => loadConfig({ ...production, SMTP_URL: 'http://mail.example.com' }, dir), /SMTP_URL="http/);
    assert.throws(
      () => loadConfig({ ...production, MAIL_DISABLED: 'true', MAIL_FROM: 'x\r\nBcc: a@b.c' }, dir),
      /MAIL_FROM/,
    );
  });

  it('has the contract defaults for mail', () => {
    const dir = tempDir('tessera-config-');
    const { config } = loadConfig({ SECRET_KEY: LONG_SECRET, PUBLIC_URL: 'https://auth.example.com' }, dir);
    assert.deepEqual(config.mail, {
      smtpUrl: undefined,
      from: 'Tessera <no-reply@auth.example.com>',
      templatesDir: undefined,
      disabled: false,
      dropDir: join(dir, 'data', 'mail'),
      verifyTokenTtlSeconds: 86400,
      resetTokenTtlSeconds: 3600,
      minIntervalSeconds: 60,
      perAddressPerHour: 5,
    });
    assert.equal(config.requireEmailVerification, false);
  });

  it('reads .env, with real environment variables winning', () => {
    const dir = tempDir('tessera-config-');
    writeFileSync(
      join(dir, '.env'),
      'PORT=6000\nHOST=0.0.0.0\n# comment\nSECRET_KEY="from-file-from-file-from-file-from-file"\n',
    );
    const env = readEnvironment(dir, { PORT: '7000' });
    const { config } = loadConfig(env, dir);
    assert.equal(config.port, 7000);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.secretKey, 'from-file-from-file-from-file-from-file');
    assert.equal(readFileSync(join(dir, '.env'), 'utf8').includes('PORT=6000'), true);
  });
});
