/**
 * How many rows one batched statement carries at the most, so that its parameters stay under
 * both engines' limits (PostgreSQL 65,535; SQLite 32,766) at up to seven parameters a row (SQLite; PostgreSQL takes one array per column).
 */
export const ROWS_PER_STATEMENT = 500;
