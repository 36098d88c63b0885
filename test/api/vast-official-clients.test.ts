import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * The official Vast.ai CLIs, unchanged (../shared/reference/vast-cli), against the Vast dialect as
 * it is served through the edge: the legacy `vast.py` and the newer `vastai` package, with Debian's
 * Python and its packages (.ci/run installs them).
 */
const CLI = join(fileURLToPath(new URL('../../../', import.meta.url)), '..', 'shared', 'reference', 'vast-cli');
const PYTHON = '/usr/bin/python3';

/** `python3 <file|-c> args` with the clients on PYTHONPATH; VAST_URL is where vast.py loads GPU names while building its parser. */
function run(file: string, args: string[], vastUrl = ''): Promise<{ code: number; out: string }> {
  const env = { ...process.env, PYTHONPATH: CLI, HOME: '/tmp', VAST_URL: vastUrl };
  return new Promise((resolve) => {
    const child = execFile(PYTHON, [file, ...args], { env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : 1, out: stdout + stderr });
    });
    child.stdin?.end(); // no one at the keyboard: a confirmation prompt reads end-of-input
  });
}

/** Why the clients cannot run here (.ci/run installs what they need), or false. */
function missing(): string | false {
  if (!existsSync(join(CLI, 'vast.py'))) return `the official clients are not at ${CLI}`;
  try {
    execFileSync(PYTHON, ['-c', 'import requests, dateutil, argcomplete, rich, aiohttp'], { stdio: 'ignore' });
    return false;
  } catch {
    return `${PYTHON} lacks Debian's python3-requests, -dateutil, -argcomplete, -rich or -aiohttp`;
  }
}

const sqlite = TEST_STORES.find((s) => s.name === 'sqlite');
const skip = sqlite?.skip || missing();

describe('the official Vast clients, unchanged', { skip }, () => {
  let g: TestGantry;
  let env: { url: string; key: string };

  before(async () => {
    g = await startTestGantry(sqlite!);
    // vast.py reads VAST_URL for one call and --url for the rest; textual differences keep its logs commands local.
    env = { url: g.url.replace('127.0.0.1', 'localhost'), key: g.adminKey as string };
  });
  after(() => g.dispose());

  const clients = {
    legacy: (args: string[]) => run(join(CLI, 'vast.py'), ['--url', env.url, '--api-key', env.key, ...args], g.url),
    vastai: (args: string[]) => run('-c', ['from vastai.cli.main import main; main()', '--url', env.url, '--api-key', env.key, ...args], g.url),
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
    const r = await run(join(CLI, 'vast.py'), ['--url', env.url, '--api-key', key, 'create', 'instance', '1001', '--image', 'x', '--disk', '1'], g.url);
    assert.match(r.out, /instance_write/);
    assert.equal((await g.api('GET', '/api/v0/instances/')).body.instances.length, before);
  });
});
