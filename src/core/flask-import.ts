/**
 * Moves the Flask app's users into Tessera, keeping their ids and their Werkzeug password hashes
 * (verified at login, then replaced with argon2id). Safe to run again: users already imported
 * (same id) are skipped, never duplicated. The Flask app's token_block_list is not needed: its
 * tokens were signed with another secret and stop working anyway.
 */
import type { Clock } from '../clock.js';
import type { FlaskUserRow } from '../store/flask-source.js';
import type { UserStore } from '../store/types.js';
import { emailProblems, identityKey, normalizeEmail, normalizeUsername, usernameProblems } from './identity.js';

export interface ImportReport {
  imported: number;
  alreadyPresent: number;
  refused: { id: string; username: string; reason: string }[];
}

const MAX_ID_LENGTH = 64;

export async function importFlaskUsers(
  rows: readonly FlaskUserRow[],
  users: UserStore,
  clock: Clock,
): Promise<ImportReport> {
  const report: ImportReport = { imported: 0, alreadyPresent: 0, refused: [] };
  for (const row of rows) {
    const refuse = (reason: string) => report.refused.push({ id: row.id, username: row.username, reason });
    if (row.id === '' || row.id.length > MAX_ID_LENGTH) {
      refuse('invalid id');
      continue;
    }
    if (await users.findById(row.id)) {
      report.alreadyPresent += 1;
      continue;
    }
    const problems = [...usernameProblems(row.username), ...emailProblems(row.email)];
    if (problems.length > 0) {
      refuse(problems.map((p) => `${p.field} ${p.problem.replace('_', ' ')}`).join(', '));
      continue;
    }
    if (row.password === '') {
      refuse('no password hash');
      continue;
    }
    const username = normalizeUsername(row.username);
    const email = normalizeEmail(row.email);
    const result = await users.insert({
      id: row.id,
      username,
      usernameKey: identityKey(username),
      email,
      emailKey: identityKey(email),
      passwordHash: row.password,
      roles: [],
      createdAt: clock.now(),
    });
    if (result === 'taken') refuse('username or email already taken (compared ignoring case, after NFKC)');
    else report.imported += 1;
  }
  return report;
}
