/**
 * Property tests for what decides trust in a browser: `return_to` never leaves the trusted
 * origins whatever the text, CORS_ORIGINS takes exact origins only, and a CSRF token matches
 * its own session and nothing else.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseOrigin, parseOriginList } from '../src/config-parsers.js';
import { createCsrfTokens } from '../src/crypto/csrf-tokens.js';
import { safeReturnTo } from '../src/http/browser/origins.js';

const OWN = 'https://auth.example.com';
const TRUSTED = new Set([OWN, 'https://app.example.com']);

/** Pieces attackers put together to make a URL parser and a browser disagree. */
const piece = fc.constantFrom(
  '/',
  '//',
  '\\',
  '/\\',
  '@',
  ':',
  '.',
  '%2f',
  '%5c',
  '\t',
  '\n',
  ' ',
  'https:',
  'http:',
  'javascript:',
  'data:',
  'evil.example',
  'app.example.com',
  'auth.example.com',
  'user:pass@',
  '?',
  '#',
  '..',
  '%00',
  'ｅvil',
);

describe('return_to', () => {
  it('never yields a URL outside the trusted origins, however it is spelt', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.array(piece, { maxLength: 8 }).map((p) => p.join('')),
          fc.string(),
          fc.webUrl(),
        ),
        (text) => {
          const result = safeReturnTo(text, OWN, TRUSTED);
          if (result === undefined) return;
          const url = new URL(result);
          assert.ok(TRUSTED.has(url.origin), `${JSON.stringify(text)} → ${result}`);
          assert.equal(url.username + url.password, '');
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('keeps a path on our own origin, and a trusted absolute URL as it is', () => {
    fc.assert(
      fc.property(fc.webPath(), (path) => {
        const text = path.startsWith('/') && !path.startsWith('//') ? path : `/${path.replace(/^\/+/, '')}`;
        const result = safeReturnTo(text, OWN, TRUSTED);
        if (result !== undefined) assert.equal(new URL(result).origin, OWN);
      }),
    );
    assert.equal(safeReturnTo('https://app.example.com/x?y=1#z', OWN, TRUSTED), 'https://app.example.com/x?y=1#z');
    assert.equal(safeReturnTo('/account', OWN, TRUSTED), `${OWN}/account`);
  });
});

describe('CORS_ORIGINS', () => {
  it('takes only exact http(s) origins, never * or a URL with a path', () => {
    assert.deepEqual(parseOriginList('https://a.example, http://localhost:3000'), [
      'https://a.example',
      'http://localhost:3000',
    ]);
    for (const bad of [
      '*',
      'https://*.example.com',
      'https://a.example/path',
      'ftp://a.example',
      'a.example',
      'null',
    ]) {
      assert.equal(parseOriginList(bad), undefined, bad);
    }
    fc.assert(
      fc.property(fc.webUrl(), (url) => {
        const origin = parseOrigin(url);
        if (origin !== undefined) assert.equal(origin, new URL(url).origin);
      }),
    );
  });
});

describe('CSRF tokens', () => {
  const tokens = createCsrfTokens('a-secret-that-is-long-enough-0123456789');
  it('match their own session only, and no altered token matches', () => {
    fc.assert(
      fc.property(fc.uuid(), fc.uuid(), fc.string({ maxLength: 60 }), (a, b, junk) => {
        const token = tokens.issue(a);
        assert.ok(tokens.matches(a, token));
        if (a !== b) assert.ok(!tokens.matches(b, token));
        if (junk !== token) assert.ok(!tokens.matches(a, junk));
        assert.ok(!tokens.matches(a, `${token}=`));
      }),
    );
    assert.notEqual(createCsrfTokens('another-secret-that-is-long-enough-0123').issue('s'), tokens.issue('s'));
  });
});
