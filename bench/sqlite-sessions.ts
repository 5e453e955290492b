/** A SQLite file of generated users and sessions, for the benches that need a large one. */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { purgeAfter } from '../src/store/sql/purge-after.js';
import { ROOT, tempDir } from './harness.js';
import type { BenchSession } from './session-tokens.js';

export interface SqliteSessionsOptions {
  secret: string;
  sessions: number;
  passwordHash: string;
  /** When the users and sessions were made, epoch milliseconds. */
  at: number;
  /** Session `i`'s expiry, epoch milliseconds. */
  expiresAt(i: number): number;
  /** Sees every session as it is written (to keep some for the load). */
  written?(session: BenchSession, i: number): void;
}

/**
 * A migrated SQLite file in a folder of its own with `sessions` sessions of a tenth as many
 * users (each user in turn), written in one transaction.
 */
export function writeSqliteSessions(o: SqliteSessionsOptions): { dir: string; file: string; users: number } {
  const dir = tempDir('sqlite-sessions-');
  execFileSync(process.execPath, [join(ROOT, 'dist', 'main.js'), 'migrate'], {
    env: { PATH: process.env.PATH ?? '', DATA_DIR: dir, SECRET_KEY: o.secret },
  });
  const file = join(dir, 'tessera.sqlite3');
  const db = new SqliteDatabase(file);
  const users = Math.max(1, Math.floor(o.sessions / 10));
  const ids = Array.from({ length: users }, () => randomUUID());
  const addUser = db.prepare(
    `insert into users (id, username, username_key, email, email_key, password_hash, roles, disabled, created_at, updated_at, email_verified_at)
     values (?, ?, ?, ?, ?, ?, '[]', 0, ?, ?, ?)`,
  );
  const addSession = db.prepare(
    `insert into sessions (id, user_id, refresh_jti, refresh_issued_at, created_at, last_used_at, expires_at, purge_after, user_agent, ip, aal, amr)
     values (?, ?, ?, ?, ?, ?, ?, ?, 'bench/1.0', '127.0.0.1', 1, '["pwd"]')`,
  );
  const at = o.at;
  db.transaction(() => {
    ids.forEach((id, i) => {
      addUser.run(
        id,
        `user${i}`,
        `user${i}`,
        `user${i}@example.com`,
        `user${i}@example.com`,
        o.passwordHash,
        at,
        at,
        at,
      );
    });
    for (let i = 0; i < o.sessions; i++) {
      const session = {
        id: randomUUID(),
        userId: ids[i % users] ?? '',
        refreshJti: randomUUID(),
        expiresAt: o.expiresAt(i),
      };
      o.written?.(session, i);
      addSession.run(
        session.id,
        session.userId,
        session.refreshJti,
        Math.floor(at / 1000),
        at,
        at,
        session.expiresAt,
        purgeAfter(session.expiresAt),
      );
    }
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return { dir, file, users };
}
