import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CliResult } from '../helpers/cli.js';
import { inProcess } from '../helpers/cli-in-process.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { ONE_STORE } from '../helpers/stores.js';

type Row = Record<string, unknown>;

/**
 * vastai verbs and flags `gantry` lacked (`change bid`, `prepay instance`, `show volumes`, `-q` on show verbs),
 * `logs --raw` as vastai's (the text), and `--wait` saying the state an instance reached when its command
 * ends at once, not the running before it.
 */
for (const ts of ONE_STORE) {
  describe(`CLI: vastai's verbs (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let renter: string;
    let machineId: number;
    let offer: string;
    const as = (key: string, ...args: string[]): Promise<CliResult> => inProcess(args, g.url, key);
    const ok = async (key: string, ...args: string[]): Promise<string> => {
      const r = await as(key, ...args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      return r.stdout;
    };
    const destroy = async (id: number): Promise<void> => {
      assert.equal((await g.api('DELETE', `/api/v0/instances/${id}/`, undefined, { key: renter })).status, 200);
      for (let i = 0; i < 1200 && (await g.api('GET', `/api/v0/instances/${id}/`, undefined, { key: renter })).status !== 404; i++)
        await new Promise((r) => setTimeout(r, 50));
    };

    before(async () => {
      g = await startTestGantry(ts, { gpus: '2x RTX 4090:24GB' });
      machineId = (await g.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
      offer = String(machineId * 1000 + 1);
      renter = (await g.api('POST', '/api/v0/users/', { username: 'renter', email: 'renter@example.com', credit: 50 })).body.api_key as string;
    });
    after(async () => g.dispose());

    it('--wait ends on the state the instance reached: a command that exits at once is exited, exit code 1', async () => {
      const r = await as(renter, 'create', 'instance', offer, '--args-json', '["sh","-c","echo bye; exit 3"]', '--wait');
      const id = Number(/Created instance (\d+)/.exec(r.stdout)?.[1]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, new RegExp(`✖ instance ${id} exited \\(main process exited with code 3\\)\\n$`));
      // `logs --raw` is the text, as `vastai logs --raw` prints it (the API's answer is text, not JSON).
      assert.equal(await ok(renter, 'logs', String(id), '--raw'), 'bye\n');
      assert.equal(await ok(renter, 'logs', String(id)), 'bye\n');
      await destroy(id);
    });

    it('change bid, prepay instance; -q prints ids only', async () => {
      const made = await ok(renter, 'create', 'instance', offer, '--price', '0.5', '--onstart-cmd', 'sleep 300');
      const id = Number(/Created instance (\d+)/.exec(made)?.[1]);
      assert.match(await ok(renter, 'change', 'bid', String(id), '--price', '0.6'), new RegExp(`^bid of instance ${id} is now \\$0\\.6/hour`));
      const bid = (JSON.parse(await ok(renter, 'change', 'bid', String(id), '--price', '0.7', '--raw')) as Row).dph_base;
      assert.equal(bid, 0.7);
      assert.match(
        await ok(renter, 'prepay', 'instance', String(id), '5'),
        new RegExp(`^prepaid for [\\d.]+ months of instance ${id} applying \\$5\\.00 credits for a discount of [\\d.]+%\\n$`),
      );

      assert.equal(await ok(renter, 'show', 'instances', '-q'), `${id}\n`);
      assert.equal(await ok(renter, 'show', 'instances', '--quiet', '--raw'), `${id}\n`);
      assert.equal(await ok(renter, 'show', 'instance', String(id), '-q'), `${id}\n`);
      // As vastai prints them: the machines' ids on one line.
      assert.equal(await ok(g.adminKey ?? '', 'show', 'machines', '-q'), `${machineId}\n`);
      const dep = /Created deployment (\d+)/.exec(
        await ok(renter, 'create', 'deployment', '--name', 'quiet', '--image', 'local/worker', '--max_workers', '0'),
      )?.[1];
      assert.equal(await ok(renter, 'show', 'deployments', '-q'), `${dep}\n`);
      assert.equal(await ok(renter, 'show', 'deployment', dep ?? '', '-q'), `${dep}\n`);
      // As vastai: --raw wins over -q in show machines and show deployment.
      assert.equal((JSON.parse(await ok(renter, 'show', 'deployment', dep ?? '', '-q', '--raw')) as Row).id, Number(dep));
      assert.ok(Array.isArray(JSON.parse(await ok(g.adminKey ?? '', 'show', 'machines', '-q', '--raw')) as unknown));
      await destroy(id);
    });

    it('show volumes: a table, --raw the JSON, -t network none (every Gantry volume is local)', async () => {
      assert.equal(await ok(renter, 'show', 'volumes'), 'No volumes.\n');
      const volumeOffer = (await g.api('POST', '/api/v0/volumes', { machine: machineId, size: 10 })).body.volume_offers[0].id as number;
      const made = await g.api('PUT', '/api/v0/volumes/', { id: volumeOffer, size: 5, name: 'data' }, { key: renter });
      assert.equal(made.status, 200, JSON.stringify(made.body));
      const table = await ok(renter, 'show', 'volumes');
      assert.match(table, /^ID\s+Name\s+Disk\s+Status\s+Machine\s+Instances\s+\$\/hr\s+Cost so far\s+Created$/m);
      assert.match(
        table,
        new RegExp(`^${String(made.body.volume_id)}\\s+data\\s+5 GB\\s+available\\s+${machineId}\\s+-\\s+\\d\\.\\d{4}\\s+\\$\\d\\.\\d{4}\\s+\\d{4}-`, 'm'),
      );
      const rows = JSON.parse(await ok(renter, 'show', 'volumes', '--raw')) as Row[];
      assert.deepEqual(
        rows.map((r) => [r.id, r.label, r.disk_space]),
        [[made.body.volume_id, 'data', 5]],
      );
      assert.equal(await ok(renter, 'show', 'volumes', '-t', 'network'), 'No volumes.\n');
    });
  });
}
