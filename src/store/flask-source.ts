/** Reads the Flask app's SQLite file, read-only: its `users` table (id, username, email, password). */
import SqliteDatabase from 'better-sqlite3';

export interface FlaskUserRow {
  id: string;
  username: string;
  email: string;
  password: string;
}

export class NotAFlaskDatabaseError extends Error {}

const REQUIRED_COLUMNS = ['id', 'username', 'email', 'password'];

export function readFlaskUsers(file: string): FlaskUserRow[] {
  let db: SqliteDatabase.Database;
  try {
    db = new SqliteDatabase(file, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new NotAFlaskDatabaseError(`Cannot open ${file} as SQLite: ${(error as Error).message}`);
  }
  try {
    let columns: string[];
    try {
      columns = (db.prepare("select name from pragma_table_info('users')").all() as { name: string }[]).map(
        (c) => c.name,
      );
    } catch {
      throw new NotAFlaskDatabaseError(`${file} is not a SQLite database.`);
    }
    const missing = REQUIRED_COLUMNS.filter((c) => !columns.includes(c));
    if (missing.length > 0) {
      throw new NotAFlaskDatabaseError(
        `${file} has no Flask users table (missing: ${missing.join(', ')}); nothing was imported.`,
      );
    }
    const rows = db.prepare('select id, username, email, password from users order by rowid').all() as Record<
      string,
      unknown
    >[];
    return rows.map((row) => ({
      id: String(row.id ?? ''),
      username: String(row.username ?? ''),
      email: String(row.email ?? ''),
      password: String(row.password ?? ''),
    }));
  } finally {
    db.close();
  }
}
