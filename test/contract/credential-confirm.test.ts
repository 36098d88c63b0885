import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ControlPlane } from '../../src/control/control-plane.js';
import { PgChangeFeed } from '../../src/store/dialects/pg-change-feed.js';
import { postgresDialect } from '../../src/store/dialects/postgres.js';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import { planeOn } from '../helpers/replica.js';
import { until } from '../helpers/serverless.js';
import { overTcp, TEST_STORES } from '../helpers/stores.js';
import { TcpRelay } from '../helpers/tcp-relay.js';

const pgStore = TEST_STORES.find((s) => s.name === 'postgres');
/** changeFeedTrustMs shrunk, so a replica that cannot hear goes untrusted within a test's patience. */
const TRUST_MS = 400;
const timeouts = { feedTrustMs: TRUST_MS, feedCheckMs: TRUST_MS, feedReconnectMaxMs: 200 };

/** Whether `p` is refused as an unknown or revoked credential. */
async function refused(p: Promise<unknown>): Promise<boolean> {
  return p.then(
    () => false,
    (err: unknown) => (err as { code?: string }).code === 'UNAUTHENTICATED',
  );
}

/**
 * Decision 014: a credential change answers once every other replica forgot the account's keys, or can no
 * longer use what it remembers. Replica B's listening connection goes through a relay that goes silent (a
 * network cut nothing notices at once), while its pool reaches the database directly: B hears nothing of the
 * revocation, yet must refuse the key on the very next request once A answered.
 */
describe('a credential change and a replica that cannot hear it (PostgreSQL)', { skip: pgStore?.skip ?? 'no postgres store' }, () => {
  let dir: string;
  let relay: TcpRelay;
  const stores: KyselyStore[] = [];
  let a: ControlPlane;
  let b: ControlPlane;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gantry-confirm-'));
    const location = await pgStore!.fresh(dir);
    const direct = overTcp(location);
    relay = new TcpRelay({ host: direct.hostname, port: Number(direct.port) });
    await relay.open();
    const viaRelay = new URL(direct);
    viaRelay.port = String(relay.port);
    const dialectB = postgresDialect(location, { poolSize: 3, timeouts });
    stores.push(
      new KyselyStore(postgresDialect(location, { poolSize: 3, timeouts })),
      new KyselyStore({ ...dialectB, createChangeFeed: (onError) => new PgChangeFeed(viaRelay.toString(), { onError, timeouts }) }),
    );
    for (const s of stores) await s.migrate();
    a = planeOn(stores[0]!, dir, {});
    b = planeOn(stores[1]!, dir, {});
    await a.bootstrapAdmin('admin-key');
    // Registered (the feeds began to listen before the migration made their table): B's memory is in use.
    await until('both replicas current', async () => stores.every((s) => s.changes.current()), 10_000);
  });

  after(async () => {
    relay?.thaw();
    a?.agents.close();
    b?.agents.close();
    for (const s of stores) await s.close();
    await relay?.cut();
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses a key revoked at A on B's very next request, though B's listener went silent", async () => {
    const admin = await a.authenticate('admin-key');
    const k = await a.accounts.keys.createApiKey(admin, { name: 'known to b', permissions: null, teamId: null });
    await b.authenticate(k.key);
    assert.equal((await b.authenticate(k.key)).keyId, k.id, 'B remembers it');
    assert.ok(b.ctx.principals.size > 0);

    relay.freeze();
    await a.accounts.keys.revokeApiKey(admin, k.id);
    // Without the wait, B still answered from memory here: nothing told it of the revocation.
    assert.ok(await refused(b.authenticate(k.key)), "B refuses the revoked key at once after A's answer");
    assert.equal(b.ctx.store.changes.current(), false, 'B knows it cannot hear, and reads keys from the database');
    assert.equal((await b.authenticate('admin-key')).accountId, admin.accountId, 'other keys still work on B, read from the database');

    // The cut outlasts B's check: B gave its listener up and opens another, whose start is lost in the cut
    // too. The network's return must not wait for that try's connect timeout (30 s by default).
    const tries = relay.accepted;
    await until('B tries a new listening connection during the cut', async () => relay.accepted > tries, 10_000);
    relay.thaw();
    await until('B hears again (a new listening connection)', async () => b.ctx.store.changes.current(), 15_000);
    await a.accounts.keys.revokeApiKey(admin, (await a.accounts.keys.createApiKey(admin, { name: 'after', permissions: null, teamId: null })).id);
  });
});
