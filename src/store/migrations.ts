/**
 * Versioned schema migrations, applied in name order on start and by `tessera migrate`.
 * Each one is frozen once released: change the schema by adding a new one.
 */
import { type Kysely, type Migration, type MigrationProvider, Migrator, PostgresAdapter, sql } from 'kysely';

// Migrations see the database as it was when they were written, not as the current types say.
type AnyDb = Kysely<any>;

const initial: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable('users')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('username', 'varchar(128)', (c) => c.notNull())
      .addColumn('username_key', 'varchar(128)', (c) => c.notNull().unique())
      .addColumn('email', 'varchar(320)', (c) => c.notNull())
      .addColumn('email_key', 'varchar(320)', (c) => c.notNull().unique())
      .addColumn('password_hash', 'text', (c) => c.notNull())
      .addColumn('roles', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('users_created_at').on('users').columns(['created_at', 'id']).execute();

    await db.schema
      .createTable('sessions')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('user_id', 'varchar(64)', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('refresh_jti', 'varchar(64)', (c) => c.notNull())
      .addColumn('refresh_issued_at', 'bigint', (c) => c.notNull())
      .addColumn('previous_jti', 'varchar(64)')
      .addColumn('rotated_at', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('last_used_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('ended_at', 'bigint')
      .addColumn('end_reason', 'varchar(32)')
      .addColumn('user_agent', 'varchar(512)')
      .addColumn('ip', 'varchar(64)')
      .execute();
    await db.schema.createIndex('sessions_user_id').on('sessions').column('user_id').execute();
    await db.schema.createIndex('sessions_expires_at').on('sessions').column('expires_at').execute();

    await db.schema
      .createTable('revoked_tokens')
      .addColumn('jti', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('revoked_tokens_expires_at').on('revoked_tokens').column('expires_at').execute();
  },
  async down(db: AnyDb) {
    await db.schema.dropTable('revoked_tokens').execute();
    await db.schema.dropTable('sessions').execute();
    await db.schema.dropTable('users').execute();
  },
};

const rateCounters: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable('rate_counters')
      .addColumn('key', 'varchar(400)', (c) => c.primaryKey())
      .addColumn('count', 'integer', (c) => c.notNull())
      .addColumn('reset_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('rate_counters_reset_at').on('rate_counters').column('reset_at').execute();
  },
  async down(db: AnyDb) {
    await db.schema.dropTable('rate_counters').execute();
  },
};

/**
 * The invalidation generation (see GenerationSource): one counter row, a log of what each raise
 * was about (the user whose session or record changed, or the revoked token's id), and triggers
 * that write both inside the transaction of every write that can stop a token working. Rotating
 * a refresh token, opening a session and counting rate limits write neither: cached access
 * checks stay valid.
 */
const cacheGeneration: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable('tessera_generation')
      .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
      .addColumn('value', 'bigint', (c) => c.notNull())
      .execute();
    await db.insertInto('tessera_generation').values({ id: 1, value: 0 }).execute();
    await db.schema
      .createTable('tessera_changes')
      .addColumn('generation', 'bigint', (c) => c.notNull())
      .addColumn('subject', 'varchar(64)', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('tessera_changes_generation').on('tessera_changes').column('generation').execute();
    const statements =
      db.getExecutor().adapter instanceof PostgresAdapter ? postgresGenerationTriggers : sqliteGenerationTriggers;
    for (const statement of statements) await sql.raw(statement).execute(db);
  },
  async down(db: AnyDb) {
    const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
    for (const [table, trigger] of GENERATION_TRIGGERS) {
      await sql.raw(`drop trigger if exists ${trigger}${postgres ? ` on ${table}` : ''}`).execute(db);
    }
    if (postgres) {
      await sql.raw('drop function if exists tessera_raise_generation(); drop function if exists tessera_raise_generation_for_deleted()').execute(db);
    }
    await db.schema.dropTable('tessera_changes').execute();
    await db.schema.dropTable('tessera_generation').execute();
  },
};

const RAISE = 'update tessera_generation set value = value + 1 where id = 1';
const GENERATION_TRIGGERS = [
  ['sessions', 'tessera_session_ended'],
  ['sessions', 'tessera_session_deleted'],
  ['users', 'tessera_user_changed'],
  ['users', 'tessera_user_deleted'],
  ['revoked_tokens', 'tessera_token_revoked'],
] as const;

/** SQLite: a raise and its log row per changed row. */
const sqliteRaise = (subject: string) =>
  `${RAISE}; insert into tessera_changes (generation, subject) select value, ${subject} from tessera_generation where id = 1;`;
const sqliteGenerationTriggers = [
  `create trigger tessera_session_ended after update of ended_at on sessions
     when old.ended_at is null and new.ended_at is not null begin ${sqliteRaise('new.user_id')} end`,
  `create trigger tessera_session_deleted after delete on sessions begin ${sqliteRaise('old.user_id')} end`,
  `create trigger tessera_user_changed after update on users begin ${sqliteRaise('old.id')} end`,
  `create trigger tessera_user_deleted after delete on users begin ${sqliteRaise('old.id')} end`,
  `create trigger tessera_token_revoked after insert on revoked_tokens begin ${sqliteRaise('new.jti')} end`,
];

// PostgreSQL fires row triggers when their statement has finished, so a statement holds its own
// row locks before it waits for the counter's: writers queue on the counter, never deadlock on
// it, as long as a transaction raises it in its last writing statement (every store method does).
// The trigger's argument names the column that says whom the change concerns.
const postgresGenerationTriggers = [
  `create function tessera_raise_generation() returns trigger language plpgsql as $$
     declare raised bigint;
     begin
       ${RAISE} returning value into raised;
       insert into tessera_changes (generation, subject)
         values (raised, coalesce(to_jsonb(new), to_jsonb(old)) ->> tg_argv[0]);
       return null;
     end $$`,
  // Purging deletes many sessions in one statement: raise once, and only if it deleted any.
  `create function tessera_raise_generation_for_deleted() returns trigger language plpgsql as $$
     declare raised bigint;
     begin
       if exists (select 1 from gone) then
         ${RAISE} returning value into raised;
         insert into tessera_changes (generation, subject)
           select distinct raised, to_jsonb(gone) ->> tg_argv[0] from gone;
       end if;
       return null;
     end $$`,
  `create trigger tessera_session_ended after update of ended_at on sessions for each row
     when (old.ended_at is null and new.ended_at is not null) execute function tessera_raise_generation('user_id')`,
  `create trigger tessera_session_deleted after delete on sessions referencing old table as gone
     for each statement execute function tessera_raise_generation_for_deleted('user_id')`,
  `create trigger tessera_user_changed after update on users for each row execute function tessera_raise_generation('id')`,
  `create trigger tessera_user_deleted after delete on users for each row execute function tessera_raise_generation('id')`,
  `create trigger tessera_token_revoked after insert on revoked_tokens for each row execute function tessera_raise_generation('jti')`,
];

export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '2026-11-24-001-initial': initial,
  '2026-11-24-002-rate-counters': rateCounters,
  '2026-11-29-003-cache-generation': cacheGeneration,
};

const provider: MigrationProvider = { getMigrations: async () => ({ ...MIGRATIONS }) };

/** Applies every pending migration; returns the names applied. */
export async function migrateToLatest(db: AnyDb): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: 'tessera_migrations',
    migrationLockTableName: 'tessera_migrations_lock',
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
