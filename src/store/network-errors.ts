/** node:net's codes for a peer that cannot be reached: any store behind a socket can raise them. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']);

export function isNetworkFailure(error: unknown): boolean {
  return error instanceof Error && 'code' in error && NETWORK_CODES.has(String(error.code));
}
