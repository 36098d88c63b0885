import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { instancePaths } from '../../src/runtime/files.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { joinSecondHost, type SecondHost } from '../helpers/second-host.js';
import { ONE_STORE } from '../helpers/stores.js';
import { startVastClients, vastClientsMissing, type VastClients } from '../helpers/vast-clients.js';

/**
 * Copies between two instances (docs/decisions/011-instance-copy.md) with the official clients: on one machine
 * the agent pipes a tar from one instance into the other; to an instance on a second host (a second agent
 * joined to the same control plane) it pushes over that instance's SSH access with a one-time key.
 */
const missing = (): string | false => (existsSync('/usr/bin/tar') ? false : 'tar is not installed');

for (const store of ONE_STORE) {
  describe(`copy between instances (${store.name})`, { skip: store.skip || missing() || vastClientsMissing() }, () => {
    let g: TestGantry;
    let vast: VastClients;
    let second: SecondHost;
    let secondDir: string;
    let a: number;
    let b: number;
    let c: number;
    const disk = (root: string, id: number): string => instancePaths(join(root, 'instances'), id).disk;

    const create = async (offerId: number): Promise<number> => {
      const r = await g.api('PUT', `/api/v0/asks/${offerId}/`, { image: 'x', disk: 1, runtype: 'ssh', onstart: 'sleep 600' });
      assert.equal(r.status, 200, r.text);
      return r.body.new_contract as number;
    };
    const running = (id: number): Promise<Record<string, unknown>> => g.waitInstance(id, (r) => r.actual_status === 'running' && r.ssh_port !== null, 60_000);
    /** The destination's status_msg once the copy ended (done, failed or cancelled). */
    const ended = (id: number): Promise<string> =>
      g
        .waitInstance(id, (r) => typeof r.status_msg === 'string' && /^copy .*: (done|failed|cancelled)/.test(r.status_msg), 60_000)
        .then((r) => r.status_msg as string);

    before(async () => {
      g = await startTestGantry(store, { gpus: '2x RTX 4090:24GB' });
      vast = startVastClients(g.url, g.adminKey as string);
      // A second host, as `gantry agent` joins: its own data dir, port range and host token.
      second = await joinSecondHost(g, { channel: 'in-process' });
      secondDir = second.dataDir;
      const machine = second.machineId;
      a = await create((g.agent?.machineId as number) * 1000 + 1);
      b = await create((g.agent?.machineId as number) * 1000 + 1);
      c = await create(machine * 1000 + 1);
      await Promise.all([running(a), running(b), running(c)]);
      await mkdir(join(disk(g.dataDir, a), 'data', 'sub'), { recursive: true });
      await writeFile(join(disk(g.dataDir, a), 'data', 'file.txt'), 'copied between instances\n');
      await writeFile(join(disk(g.dataDir, a), 'data', 'sub', 'deep.bin'), Buffer.from([0, 1, 2, 255]));
    });
    after(async () => {
      vast.close();
      await second.dispose();
      await g.dispose();
    });

    it('copies a folder between two instances on one machine (legacy and vastai), bytes and all', async () => {
      const legacy = await vast.legacy(['copy', `C.${a}:/data/`, `C.${b}:/inbox`]);
      assert.match(legacy.out, /Remote to Remote copy initiated/, legacy.out);
      assert.match(await ended(b), /: done, \d+ bytes$/);
      assert.equal(await readFile(join(disk(g.dataDir, b), 'inbox', 'file.txt'), 'utf8'), 'copied between instances\n');
      assert.deepEqual([...(await readFile(join(disk(g.dataDir, b), 'inbox', 'sub', 'deep.bin')))], [0, 1, 2, 255]);
      // Without the trailing slash the folder itself is copied (rsync's rule); the legacy ID:path form works too.
      const vastai = await vast.vastai(['copy', `${a}:/data`, `${b}:/second`]);
      assert.match(vastai.out, /Remote to Remote copy initiated/, vastai.out);
      await g.waitInstance(b, (r) => String(r.status_msg).startsWith(`copy from C.${a}:/data to /second: done`), 60_000);
      assert.equal(await readFile(join(disk(g.dataDir, b), 'second', 'data', 'file.txt'), 'utf8'), 'copied between instances\n');
    });

    it('copies to an instance on another machine over its SSH access with a one-time key', async () => {
      const r = await vast.sdk(`from vastai import VastAI\nprint(repr(VastAI(api_key=KEY, server_url=URL).copy('C.${a}:/data/sub/', 'C.${c}:/far/away')))`);
      assert.match(r.out, /started/, r.out);
      assert.match(await ended(c), /: done, \d+ bytes$/);
      assert.deepEqual([...(await readFile(join(disk(secondDir, c), 'far', 'away', 'deep.bin')))], [0, 1, 2, 255]);
      // A source that is missing fails, and says why, on the destination's status bar.
      await vast.legacy(['copy', `C.${a}:/nothing-here`, `C.${c}:/x`]);
      assert.match(
        await g.waitInstance(c, (row) => /nothing-here.*failed/.test(String(row.status_msg)), 60_000).then((row) => String(row.status_msg)),
        /No such file/,
      );
    });

    it("refuses '..' escapes with a 400, another tenant's instances with a 404; cancel copy answers", async () => {
      for (const [src, dst] of [
        ['/data/../../..', '/x'],
        ['/data', '/inbox/../../../etc'],
      ]) {
        const r = await g.api('PUT', '/api/v0/commands/copy_direct/', { client_id: 'me', src_id: `C.${a}`, dst_id: `C.${b}`, src_path: src, dst_path: dst });
        assert.equal(r.status, 400, r.text);
        assert.match(r.body.msg, /'\.\.'/);
      }
      const escape = await vast.legacy(['copy', `C.${a}:/data/../..`, `C.${b}:/x`]);
      assert.match(escape.out, /400/, escape.out);
      const bob = (await g.api('POST', '/api/v0/users/', { username: 'bob', credit: 10 })).body as { api_key: string };
      const probe = await g.api(
        'PUT',
        '/api/v0/commands/copy_direct/',
        { client_id: 'me', src_id: a, dst_id: b, src_path: '/data', dst_path: '/x' },
        { key: bob.api_key },
      );
      assert.equal(probe.status, 404, probe.text);
      const cancelProbe = await g.api('DELETE', '/api/v0/commands/copy_direct/', { client_id: 'me', dst_id: b }, { key: bob.api_key });
      assert.equal(cancelProbe.status, 404, cancelProbe.text);
      assert.match((await vast.legacy(['cancel', 'copy', String(b)])).out, /Remote copy canceled/);
      const nothing = await g.api('DELETE', '/api/v0/commands/copy_direct/', { client_id: 'me', dst_id: b });
      assert.match(nothing.body.msg, /nothing to cancel/);
    });
  });
}
