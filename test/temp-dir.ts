/**
 * Every file a test or bench process writes goes under one directory of its own, removed when
 * the process exits: test runs used to leave dozens of directories in the system's temporary
 * folder. The bench harness hands out the same directories (bench/harness.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let root: string | undefined;

/** A new empty directory for this process, named with `prefix`, removed at exit with the rest. */
export function tempDir(prefix: string): string {
  if (root === undefined) {
    const created = mkdtempSync(join(tmpdir(), 'tessera-scratch-'));
    root = created;
    process.on('exit', () => rmSync(created, { recursive: true, force: true }));
  }
  return mkdtempSync(join(root, prefix));
}
