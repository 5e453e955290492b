/** The core services without HTTP, for CLI commands: opens (and migrates) the configured stores. */
import type { Config } from './config.js';
import { type Core, createCore } from './core/create-core.js';
import { openStores } from './store/open.js';

export async function openCore(config: Config): Promise<Core & { close(): Promise<void> }> {
  const stores = await openStores(config, { migrate: true });
  try {
    return { ...(await createCore({ config, stores })), close: () => stores.close() };
  } catch (error) {
    await stores.close();
    throw error;
  }
}
