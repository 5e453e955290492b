/**
 * How many rows one batched statement carries at the most. Its parameters are one array a column
 * (PostgreSQL) or one JSON text (SQLite) whatever the rows, so this bounds what one statement
 * locks and holds in memory, not a parameter count.
 */
export const ROWS_PER_STATEMENT = 500;

/**
 * Runs `statement` over `items`, ROWS_PER_STATEMENT of them at a time and one statement after
 * another, and gives every row the statements returned.
 */
export async function inStatements<T, R>(
  items: readonly T[],
  statement: (chunk: readonly T[]) => Promise<readonly R[]>,
): Promise<R[]> {
  const rows: R[] = [];
  for (let start = 0; start < items.length; start += ROWS_PER_STATEMENT) {
    rows.push(...(await statement(items.slice(start, start + ROWS_PER_STATEMENT))));
  }
  return rows;
}
