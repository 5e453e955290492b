#!/usr/bin/env node
/**
 * The `tessera` command: serve, migrate, purge, user create, user promote.
 * Exit codes: 0 done, 1 failed, 2 wrong usage.
 */
// First, before the rest loads: see the module.
import './pin-tick-shape.js';
import { parseArgs } from 'node:util';
import { openCore } from './cli-core.js';
import { readPassword } from './cli-input.js';
import { systemClock } from './clock.js';
import { ConfigError, type LoadedConfig, loadConfig, readEnvironment } from './config.js';
import { importFlaskUsers } from './core/flask-import.js';
import { emailProblems } from './core/identity.js';
import { AppError } from './errors.js';
import { auditJson } from './http/audit-json.js';
import { createMailRenderer } from './mail/templates.js';
import { createMailTransport } from './outbox/mail-transport.js';
import { readFlaskUsers } from './store/flask-source.js';
import { migrateToLatest } from './store/migrations/index.js';
import { openDatabase, openStores } from './store/open.js';
import type { AuditEventRecord } from './store/types.js';
import { rotateKeys } from './tokens/key-source.js';

const USAGE = `Usage: tessera <command>

  serve                                         start the HTTP server (what npm start runs)
  migrate                                       bring the database schema up to date
  purge                                         delete expired sessions and revocations now
  user create --username U --email E [--admin]  add a user; the password comes from stdin or a prompt
  user promote U --role ROLE                    give a user a role (e.g. admin)
  import flask <path-to-db.sqlite3>             import the Flask app's users, keeping ids and passwords
  keys rotate                                   make a new signing key (EdDSA/ES256/RS256); old ones verify until their tokens expire
  mail test --to ADDRESS                        send a test mail now, through SMTP_URL (or into DATA_DIR/mail)
  mail status                                   mail waiting to be sent, and mail that failed for good
  audit tail [--follow] [--user ID] [--type T] [-n N]  the newest audit events as JSON lines
  client create NAME | client list | client delete NAME  credentials for resource servers (introspection, revocation feed)

Configuration comes from the environment and ./.env; see the README.`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  const loaded = loadFromEnvironment();
  switch (command) {
    case 'serve': {
      // Loaded for this command only: the other commands then start on about half a second less
      // CPU (`tessera purge`: 0.72 s against 1.24), which a purge beside a serving instance takes
      // from it.
      const { serve } = await import('./server.js');
      await serve(loaded.config, loaded.warnings);
      return -1;
    }
    case 'migrate':
      return migrate(loaded);
    case 'purge':
      return purge(loaded);
    case 'user':
      return user(loaded, rest);
    case 'import':
      return importUsers(loaded, rest);
    case 'keys':
      if (rest.length !== 1 || rest[0] !== 'rotate') throw new UsageError('keys takes: rotate');
      return await rotate(loaded);
    case 'mail':
      return mail(loaded, rest);
    case 'audit':
      return auditTail(loaded, rest);
    case 'client':
      return clients(loaded, rest);
    default:
      throw new UsageError(`Unknown command: ${command}`);
  }
}

function loadFromEnvironment(): LoadedConfig {
  return loadConfig(readEnvironment(process.cwd(), process.env), process.cwd());
}

async function migrate({ config }: LoadedConfig): Promise<number> {
  const { db, engine } = await openDatabase(config);
  try {
    const applied = await migrateToLatest(db, engine);
    console.log(applied.length > 0 ? `Applied: ${applied.join(', ')}` : 'The schema is up to date.');
    return 0;
  } finally {
    await db.destroy();
  }
}

async function purge({ config }: LoadedConfig): Promise<number> {
  const core = await openCore(config);
  try {
    const purged = await core.purgeExpired();
    console.log(
      `Purged ${purged.sessions} sessions, ${purged.revocations} revocations, ${purged.counters} rate-limit windows, ` +
        `${purged.changes} invalidation log entries, ${purged.linkTokens} used or expired links, ${purged.outbox} sent ` +
        `outbox entries, ${purged.mfaChallenges} MFA challenges, ${purged.passkeyChallenges} passkey challenges and ` +
        `${purged.auditEvents} audit events past AUDIT_RETENTION.`,
    );
    return 0;
  } finally {
    await core.close();
  }
}

async function user({ config }: LoadedConfig, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'create') {
    const { values } = parseArgs({
      args: rest,
      options: { username: { type: 'string' }, email: { type: 'string' }, admin: { type: 'boolean' } },
      strict: true,
    });
    if (!values.username || !values.email) throw new UsageError('user create needs --username and --email.');
    const password = await readPassword('Password: ');
    const core = await openCore(config);
    try {
      const created = await core.accounts.register(
        { username: values.username, email: values.email, password },
        null,
        values.admin ? ['admin'] : [],
      );
      console.log(`Created user ${created.username} (${created.id})${values.admin ? ' with role admin' : ''}.`);
      return 0;
    } finally {
      await core.close();
    }
  }
  if (sub === 'promote') {
    const { values, positionals } = parseArgs({
      args: rest,
      options: { role: { type: 'string' } },
      allowPositionals: true,
      strict: true,
    });
    const [name] = positionals;
    if (!name || !values.role || positionals.length > 1) throw new UsageError('user promote needs U --role ROLE.');
    const core = await openCore(config);
    try {
      const updated = await core.accounts.grantRole(name, values.role);
      console.log(`${updated.username} now has roles: ${updated.roles.join(', ')}.`);
      return 0;
    } finally {
      await core.close();
    }
  }
  throw new UsageError('user takes create or promote.');
}

async function importUsers({ config }: LoadedConfig, args: string[]): Promise<number> {
  const [source, file, ...extra] = args;
  if (source !== 'flask' || !file || extra.length > 0) throw new UsageError('import takes: flask <path-to-db.sqlite3>');
  const rows = readFlaskUsers(file);
  const stores = await openStores(config, { migrate: true });
  try {
    const report = await importFlaskUsers(rows, stores.users, systemClock);
    console.log(
      `Imported ${report.imported} users; ${report.alreadyPresent} were already present; ${report.refused.length} refused.`,
    );
    for (const r of report.refused) console.log(`  refused ${JSON.stringify(r.username)} (id ${r.id}): ${r.reason}`);
    return 0;
  } finally {
    await stores.close();
  }
}

async function mail({ config }: LoadedConfig, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'test') {
    const { values } = parseArgs({ args: rest, options: { to: { type: 'string' } }, strict: true });
    if (!values.to || emailProblems(values.to).length > 0) throw new UsageError('mail test needs --to ADDRESS.');
    if (config.mail.disabled) throw new UsageError('Mail is turned off (MAIL_DISABLED=true).');
    const transport = createMailTransport(config.mail, config.publicUrl, (message, context) =>
      console.log(`${message}: ${JSON.stringify(context)}`),
    );
    try {
      const rendered = createMailRenderer(config.mail.templatesDir).render('test', values.to, {});
      await transport.send(rendered, `test-${Date.now()}`);
      console.log(
        `Sent a test mail to ${values.to} ${config.mail.smtpUrl ? 'through SMTP_URL' : 'into the development mail folder'}.`,
      );
      return 0;
    } finally {
      transport.close();
    }
  }
  if (sub === 'status') {
    const stores = await openStores(config, { migrate: true });
    try {
      const [counts, failures] = await Promise.all([stores.outbox.counts(), stores.outbox.failures(50)]);
      console.log(
        `${counts.pending} waiting to be sent; ${counts.done} sent in the last 7 days; ${counts.failed} failed for good${failures.length > 0 ? ' (newest first, at most 50):' : '.'}`,
      );
      for (const f of failures) {
        console.log(
          `  ${new Date(f.finishedAt).toISOString()}  ${f.topic}  ${f.recipient ?? '-'}  after ${f.attempts} attempt(s): ${f.error}`,
        );
      }
      return 0;
    } finally {
      await stores.close();
    }
  }
  throw new UsageError('mail takes: test --to ADDRESS, or status.');
}

async function rotate({ config }: LoadedConfig): Promise<number> {
  const core = await openCore(config);
  try {
    const { kid, dropped } = rotateKeys(config, Date.now());
    await core.audit.recordAlone('key.rotated', { data: { kid, dropped } });
    console.log(
      `New signing key ${kid}; ${dropped} expired key(s) dropped. Running servers pick it up within 10 seconds.`,
    );
    return 0;
  } finally {
    await core.close();
  }
}

/** Resource-server clients: the secret is printed once, at creation, and stored only hashed. */
async function clients({ config }: LoadedConfig, args: string[]): Promise<number> {
  const [sub, name, ...extra] = args;
  if (extra.length > 0 || !['create', 'list', 'delete'].includes(sub ?? '') || (sub !== 'list' && !name)) {
    throw new UsageError('client takes: create NAME, list, or delete NAME');
  }
  const core = await openCore(config);
  try {
    if (sub === 'create') {
      const { client, secret } = await core.resourceServers.create(name ?? '');
      console.log(`Created client ${client.name}.\nclient id:     ${client.id}\nclient secret: ${secret}`);
      console.log('The secret is shown this once; Tessera keeps only its hash.');
      return 0;
    }
    if (sub === 'list') {
      const all = await core.resourceServers.list();
      if (all.length === 0) console.log('No clients.');
      for (const client of all)
        console.log(`${client.name}  ${client.id}  created ${new Date(client.createdAt).toISOString()}`);
      return 0;
    }
    if (!(await core.resourceServers.remove(name ?? ''))) throw new AppError('not_found', `No client named ${name}.`);
    console.log(`Deleted client ${name}.`);
    return 0;
  } finally {
    await core.close();
  }
}

/** `audit tail`: the newest events as JSON lines, oldest first; `--follow` keeps printing new ones. */
async function auditTail({ config }: LoadedConfig, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'tail') throw new UsageError('audit takes: tail [--follow] [--user ID] [--type TYPE] [--lines N]');
  const { values } = parseArgs({
    args: rest,
    options: {
      follow: { type: 'boolean', short: 'f' },
      user: { type: 'string' },
      type: { type: 'string' },
      lines: { type: 'string', short: 'n' },
    },
    strict: true,
  });
  const lines = Number(values.lines ?? 20);
  if (!Number.isInteger(lines) || lines < 1 || lines > 10_000) throw new UsageError('--lines takes 1 to 10000.');
  const core = await openCore(config);
  const filter = { userId: values.user, type: values.type };
  const print = (events: AuditEventRecord[]) => {
    for (const event of events) console.log(JSON.stringify(auditJson(event)));
  };
  try {
    const newest = await core.audit.list({ ...filter, limit: lines });
    print([...newest].reverse());
    if (!values.follow) return 0;
    let last = newest[0];
    let stop = false;
    process.once('SIGINT', () => {
      stop = true;
    });
    while (!stop) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const next = await core.audit.list({ ...filter, limit: 1000, after: last ?? { at: 0, id: '' } });
      print(next);
      last = next.at(-1) ?? last;
    }
    return 0;
  } finally {
    await core.close();
  }
}

function describe(error: unknown): string {
  if (error instanceof AppError) {
    const details = error.details?.map((d) => `  - ${d.field}: ${d.problem}`).join('\n');
    return details ? `${error.message}\n${details}` : error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    if (
      error instanceof UsageError ||
      (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))
    ) {
      console.error(`${error.message}\n\n${USAGE}`);
      process.exitCode = 2;
    } else if (error instanceof ConfigError) {
      console.error(error.message);
      process.exitCode = 1;
    } else {
      console.error(`tessera: ${describe(error)}`);
      process.exitCode = 1;
    }
  },
);
