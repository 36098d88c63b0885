import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import type { Store } from '../../src/store/store.js';
import type { TestStore } from './stores.js';

/** Two handles on one fresh, migrated database (two replicas of the control plane), and one account in it. */
export interface TwoReplicas {
  readonly store: Store;
  readonly other: Store;
  /** The database's file or URL. */
  readonly location: string;
  readonly accountId: number;
  /** Closes both handles and removes the database's folder. */
  close(): Promise<void>;
}

export async function twoReplicas(ts: TestStore, prefix: string): Promise<TwoReplicas> {
  const dir = await mkdtemp(join(tmpdir(), `gantry-${prefix}-`));
  const location = await ts.fresh(dir);
  const store = new KyselyStore(ts.dialect(location));
  await store.migrate();
  const other = new KyselyStore(ts.dialect(location));
  const accountId = (await store.createAccount({ username: 'u', email: 'u@x', isAdmin: false, now: 1 })).id;
  return {
    store,
    other,
    location,
    accountId,
    async close() {
      await other.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
