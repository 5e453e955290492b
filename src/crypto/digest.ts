/** SHA-256 as hex: how one-time tokens, codes and client secrets are kept (high-entropy secrets need no slow hash). */
import { createHash } from 'node:crypto';

export const sha256Hex = (value: string): string => createHash('sha256').update(value).digest('hex');
