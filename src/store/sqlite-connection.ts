/** How every connection to Tessera's SQLite file is opened: the server's and its purge thread's. */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';

export function openSqliteConnection(file: string): SqliteDatabase.Database {
  mkdirSync(dirname(file), { recursive: true });
  const connection = new SqliteDatabase(file);
  // WAL lets readers run beside the writer; FULL syncs each commit so an acknowledged
  // registration or revocation survives a power cut, not only a process crash.
  connection.pragma('journal_mode = WAL');
  connection.pragma('synchronous = FULL');
  connection.pragma('foreign_keys = ON');
  // Several connections share the file (the purge thread, a CLI beside a server): wait for a
  // lock rather than fail.
  connection.pragma('busy_timeout = 5000');
  return connection;
}
