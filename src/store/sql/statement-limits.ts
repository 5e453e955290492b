/**
 * How many rows one batched statement carries at the most. Its parameters are one array a column
 * (PostgreSQL) or one JSON text (SQLite) whatever the rows, so this bounds what one statement
 * locks and holds in memory, not a parameter count.
 */
export const ROWS_PER_STATEMENT = 500;
