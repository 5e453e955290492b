/**
 * The hot statements (the ones every refresh, access-cache miss or generation read runs) open
 * with `/* tessera:NAME *\/`. PostgreSQL prepares a statement so tagged once per connection and
 * runs it by name after (postgres.ts); an untagged one is parsed and planned on every run, which
 * cost the server four times as much for the batched session lookup (measured: 277 µs → 63 µs).
 * The name also shows in pg_stat_activity. SQLite reads it as a comment (its statements are all
 * cached by text, sqlite.ts). A statement gets its name through compiledOnce (compiled-once.ts),
 * which compiles its text once: node-postgres refuses one name for two texts.
 */
export const namedPrefix = (name: string) => `/* tessera:${name} */ `;

/** The name of a tagged statement's text, or undefined. */
export function statementName(text: string): string | undefined {
  return TAG.exec(text)?.[1];
}

const TAG = /^\/\* tessera:([a-z_]+) \*\/ /;
