/**
 * Every file a test process writes goes under one directory of its own, removed when the process
 * exits: a full run used to leave some fifty directories in the system's temporary folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let root: string | undefined;

/** A new empty directory for this test process, named with `prefix`, removed at exit with the rest. */
export function tempDir(prefix: string): string {
  if (root === undefined) {
    const created = mkdtempSync(join(tmpdir(), 'tessera-tests-'));
    root = created;
    process.on('exit', () => rmSync(created, { recursive: true, force: true }));
  }
  return mkdtempSync(join(root, prefix));
}
