import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';
import { startVastClients, vastClientsMissing, type VastClients } from '../helpers/vast-clients.js';

/**
 * The official Vast.ai CLIs, unchanged (../shared/reference/vast-cli), against the Vast dialect as
 * it is served through the edge: the legacy `vast.py` and the newer `vastai` package.
 */
const sqlite = TEST_STORES.find((s) => s.name === 'sqlite');
const skip = sqlite?.skip || vastClientsMissing();

describe('the official Vast clients, unchanged', { skip }, () => {
  let g: TestGantry;
  let vast: VastClients;

  before(async () => {
    g = await startTestGantry(sqlite!);
    vast = startVastClients(g.url, g.adminKey as string);
  });
  after(async () => {
    vast.close();
    await g.dispose();
  });

  const clients = {
    legacy: (args: string[]) => vast.legacy(args),
    vastai: (args: string[]) => vast.vastai(args),
  };

  // The newer CLI asks before destroying; -y answers as a script would. The legacy one does not ask.
  const destroyFlags: Record<keyof typeof clients, string[]> = { legacy: [], vastai: ['-y'] };
  for (const [name, cli] of Object.entries(clients) as [keyof typeof clients, (typeof clients)['legacy']][]) {
    it(`${name}: searches, creates, lists, stops, starts and destroys an instance`, async () => {
      const offers = await cli(['search', 'offers', 'num_gpus>=1', '--raw']);
      assert.equal(offers.code, 0, offers.out);
      const offer = (JSON.parse(offers.out) as { id: number }[])[0];
      assert.ok(offer !== undefined, offers.out);
      const created = await cli(['create', 'instance', String(offer.id), '--image', 'x', '--disk', '1', '--onstart-cmd', 'sleep 300', '--raw']);
      assert.equal(created.code, 0, created.out);
      const id = (JSON.parse(created.out) as { new_contract: number }).new_contract;
      await g.waitInstance(id, (x) => x.actual_status === 'running');
      const listed = await cli(['show', 'instances', '--raw']);
      assert.ok(
        (JSON.parse(listed.out) as { id: number }[]).some((i) => i.id === id),
        listed.out,
      );
      assert.match((await cli(['stop', 'instance', String(id)])).out, /stop|stopping/i);
      await g.waitInstance(id, (x) => x.actual_status === 'stopped');
      assert.match((await cli(['start', 'instance', String(id)])).out, /start/i);
      await g.waitInstance(id, (x) => x.actual_status === 'running');
      assert.match((await cli(['destroy', 'instance', String(id), ...destroyFlags[name]])).out, /destroy/i);
      for (let i = 0; i < 400 && (await g.api('GET', `/api/v0/instances/${id}/`)).status !== 404; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal((await g.api('GET', `/api/v0/instances/${id}/`)).status, 404, 'the destroy is carried out');
    });
  }

  it("a key without a scope: the client shows Vast's refusal, and nothing is created", async () => {
    const key = (await g.api('POST', '/api/v0/auth/apikeys/', { name: 'reader', permissions: { api: { instance_read: {} } } })).body.key as string;
    const before = (await g.api('GET', '/api/v0/instances/')).body.instances.length as number;
    const r = await vast.legacy(['create', 'instance', '1001', '--image', 'x', '--disk', '1'], key);
    assert.match(r.out, /instance_write/);
    assert.equal((await g.api('GET', '/api/v0/instances/')).body.instances.length, before);
  });
});
