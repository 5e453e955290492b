export {
  createTesseraClient,
  type LoginOutcome,
  type SessionEndReason,
  type TesseraClient,
  type TesseraClientOptions,
  TesseraError,
} from './client.js';
export { defaultLock, type Lock } from './lock.js';
export type { paths } from './schema.js';
export { localStorageStore, memoryStore, type SessionStore, type StoredSession } from './session-store.js';
