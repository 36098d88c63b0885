import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { BROWSER_SKIP, checkA11y, DESKTOP, launchBrowser, openConsole, PHONE, screenshot, type TestBrowser } from '../helpers/browser.js';
import { GANTRY_BIN } from '../helpers/cli.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { until } from '../helpers/serverless.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * The console's Machines and Account pages in Chromium against a real control plane with its local
 * host: the host's GPUs; "Add a host" gives a command that really joins a `gantry agent`; list with
 * confirmation; API keys (shown once, revoked keys fail on the API), SSH keys, secrets whose value
 * never comes back into the page, the audit log of those actions; a machine_read key sees Machines
 * without actions and no Account; axe on both pages at desktop and phone sizes; screenshots.
 */
const ts = TEST_STORES.find((s) => s.name === 'sqlite') ?? TEST_STORES[0];
const AGENT_ENV = { PATH: process.env.PATH, GANTRY_GPUS: '1x T4:16GB', GANTRY_RUNTIME: 'process', GANTRY_LOG_LEVEL: 'warn', GANTRY_PROCESS_SANDBOX: 'off' };
const SECRET_VALUE = 'console-secret-value-8d1f2c';
const SSH_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIConsoleTestKeyMaterial000000000000000000000 console@test';

describe('console: Machines and Account pages', { skip: ts?.skip || BROWSER_SKIP, timeout: 180_000 }, () => {
  let g: TestGantry;
  let b: TestBrowser;
  let agentDir: string;
  let agent: ChildProcess | null = null;

  const page = async (hash: string, key = g.adminKey ?? '', viewport: { width: number; height: number } = DESKTOP): Promise<Page> => {
    const p = await (await b.context(viewport)).newPage();
    await openConsole(g, p, key, hash);
    return p;
  };

  before(async () => {
    g = await startTestGantry(ts!, { gpus: '2x RTX 4090:24GB', settings: { machineCacheMs: 0, agentPollWaitMs: 300 } });
    b = await launchBrowser();
    agentDir = await mkdtemp(join(tmpdir(), 'gantry-console-host-'));
    // A rented instance, so the account has charges for the Account page's table and chart.
    const machine = (await g.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
    const rent = await g.api('PUT', `/api/v0/asks/${machine * 1000 + 1}/`, { image: 'x', onstart: 'sleep 300', runtype: 'ssh' });
    assert.equal(rent.status, 200, rent.text);
    await g.waitInstance(rent.body.new_contract as number, (x) => x.actual_status === 'running');
  });
  after(async () => {
    if (agent !== null && agent.exitCode === null) {
      const exited = new Promise((r) => agent?.once('exit', r));
      agent.kill('SIGTERM');
      await exited;
    }
    await b?.close();
    await g?.dispose();
    await rm(agentDir, { recursive: true, force: true });
  });

  it('Machines: the local host with its GPUs and agent; list it with confirmation; add a host joins a real agent', async () => {
    const m1 = (await g.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
    const p = await page('#/machines');
    const table = p.getByRole('table', { name: 'Machines' });
    await table.getByText('2× RTX 4090').waitFor();
    await table.getByText('online').first().waitFor();
    await table
      .getByText(/last contact \d+ s ago/)
      .first()
      .waitFor();

    // (Re)list at a new price, confirmed in a dialog naming the machine; the listing shows the price.
    await p.getByRole('button', { name: new RegExp(`^(List|Change listing of) machine ${m1}$`) }).click();
    await p.getByLabel('Price ($ per GPU hour)').fill('0.5');
    await p.getByLabel('Minimum bid ($ per GPU hour)').fill('0.3');
    await p.getByRole('button', { name: /^(List|Change listing)…$/ }).click();
    const dialog = p.getByRole('dialog');
    await dialog.getByText(new RegExp(`(List|Change the listing of) machine ${m1} \\(`)).waitFor();
    await dialog.getByRole('button', { name: /^(List|Change listing)$/ }).click();
    await table.getByText('listed, $0.500/GPU/h').waitFor();
    assert.equal((await g.api('GET', '/api/v0/machines/')).body.machines[0].listed_gpu_cost, 0.5);
    // Maintenance: scheduled and cancelled, each confirmed.
    await p.getByRole('button', { name: `Schedule maintenance of machine ${m1}` }).click();
    const start = new Date(Date.now() + 86_400_000);
    const local = new Date(start.getTime() - start.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    await p.getByLabel('Starts').fill(local);
    await p.getByLabel('Duration (hours)').fill('3');
    await p.getByLabel('Reason (optional)').fill('new fans');
    await p.getByRole('button', { name: 'Schedule…' }).click();
    await p.getByRole('dialog').getByRole('button', { name: 'Schedule maintenance' }).click();
    await table.getByText('new fans').waitFor();
    await p.getByRole('button', { name: `Cancel maintenance of machine ${m1}` }).click();
    await p.getByRole('dialog').getByRole('button', { name: 'Cancel maintenance' }).click();
    await until('the window to go', async () => (await table.getByText('new fans').count()) === 0);
    assert.equal((await g.api('GET', '/api/v0/machines/')).body.machines[0].maintenance, null);
    await checkA11y(p, 'machines, 1280×800');
    await screenshot(p, 'machines');

    // Add a host: the command shown is the one a new host runs; run it, and the machine joins.
    await p.getByLabel('Name (optional)').fill('rack 2');
    await p.getByRole('button', { name: 'Make a host token' }).click();
    const command = (await p.getByLabel('Command to run on the new host').innerText()).trim();
    const argv = command.split(/\s+/);
    assert.deepEqual(argv.slice(0, 5), ['npx', 'gantry', 'agent', '--server', g.url]);
    assert.equal(argv[5], '--token');
    assert.match(argv[6] ?? '', /^ght_/);
    let out = '';
    agent = spawn(process.execPath, [GANTRY_BIN, ...argv.slice(2), '--data-dir', agentDir], { env: AGENT_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    agent.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    agent.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const id = await until('the agent to join', () => Promise.resolve(/Agent is up: machine (\d+)/.exec(out)?.[1]));
    await p.reload();
    await p.getByRole('table', { name: 'Machines' }).locator(`tr[data-key="${id}"]`).getByText('1× T4').waitFor();
  });

  it('Account: a key shown once and revoked, an SSH key, a secret never shown back, the audit log', async () => {
    await until('a charge', async () => (await g.api('GET', '/api/v0/charges/')).body.count > 0);
    const p = await page('#/account');
    await p
      .getByRole('table', { name: 'Charges' })
      .getByText(/Instance \d+ GPU/)
      .first()
      .waitFor();
    // Create a key with one category: shown once, and it works on the API.
    await p.locator('#new-key-name').fill('ci-key');
    await p.getByRole('button', { name: 'Create key' }).click();
    const shown = p.getByRole('region', { name: 'New API key' }).locator('code');
    const key = (await shown.innerText()).trim();
    assert.equal((await g.api('GET', '/api/v0/instances/', undefined, { key })).status, 200);
    await p.getByRole('button', { name: 'Done' }).click();
    assert.ok(!(await p.content()).includes(key), 'the new key is gone from the page once dismissed');
    const row = p.getByRole('table', { name: 'API keys' }).getByRole('row').filter({ hasText: 'ci-key' });
    await row.waitFor();
    // Revoke with confirmation: the key then fails on the API.
    await row.getByRole('button', { name: /^Revoke API key/ }).click();
    await p.getByRole('dialog').getByRole('button', { name: 'Revoke', exact: true }).click();
    await until('the key row to go', async () => (await row.count()) === 0);
    assert.equal((await g.api('GET', '/api/v0/instances/', undefined, { key })).status, 401);

    await p.getByLabel('Public key').fill(SSH_KEY);
    await p.getByRole('button', { name: 'Add SSH key' }).click();
    await p
      .getByRole('table', { name: 'SSH keys' })
      .getByText(/console@test/)
      .waitFor();

    await p.locator('#secret-name').fill('hf_token');
    await p.locator('#secret-value').fill(SECRET_VALUE);
    await p.getByRole('button', { name: 'Add secret' }).click();
    await p.getByRole('table', { name: 'Secrets' }).getByText('HF_TOKEN').waitFor();
    await p.getByText('HF_TOKEN added').waitFor();
    assert.ok(!(await p.content()).includes(SECRET_VALUE), 'the secret value is not in the DOM');
    assert.equal(await p.locator('#secret-value').inputValue(), '');
    assert.equal((await g.api('GET', '/api/v0/secrets/')).body.secrets.HF_TOKEN, SECRET_VALUE, 'it was saved');

    await p.getByRole('button', { name: 'Refresh' }).click();
    const audit = p.getByRole('table', { name: /Audit log/ });
    for (const call of [/POST \/api\/v0\/auth\/apikeys/, /DELETE \/api\/v0\/auth\/apikeys\/\d+/, /POST \/api\/v0\/ssh/, /POST \/api\/v0\/secrets/])
      await audit.getByText(call).first().waitFor();
    await checkA11y(p, 'account, 1280×800');
    await screenshot(p, 'account');
  });

  it('the listing form refuses a price it cannot read, in words, instead of listing at the current prices', async () => {
    const m1 = (await g.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
    const before = (await g.api('GET', '/api/v0/machines/')).body.machines[0].listed_gpu_cost as number | null;
    const p = await page('#/machines');
    await p.getByRole('button', { name: new RegExp(`^(List|Change listing of) machine ${m1}$`) }).click();
    await p.getByLabel('Price ($ per GPU hour)').fill('1,5');
    await p.getByLabel('Minimum bid ($ per GPU hour)').fill('abc');
    await p.getByRole('button', { name: /^(List|Change listing)…$/ }).click();
    const alert = p.getByRole('alert').filter({ hasText: 'The price must be a number' });
    await alert.waitFor();
    assert.match((await alert.textContent()) ?? '', /The minimum bid must be a number/);
    assert.equal(await p.getByRole('dialog').count(), 0, 'nothing to confirm');
    assert.equal(await p.getByLabel('Price ($ per GPU hour)').getAttribute('aria-invalid'), 'true');
    await p.getByLabel('Price ($ per GPU hour)').fill('1.5');
    await p.getByLabel('Minimum bid ($ per GPU hour)').fill('');
    await p.getByRole('button', { name: /^(List|Change listing)…$/ }).click();
    await p.getByRole('dialog').getByText('at $1.5/GPU/h.').waitFor();
    assert.equal(await alert.count(), 0);
    await p.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await g.api('GET', '/api/v0/machines/')).body.machines[0].listed_gpu_cost, before);
    await p.context().close();
  });

  it('a list that failed to load shows its error, never "Nothing here yet."; a key revoked mid-session returns to the login page', async () => {
    const p = await page('#/account');
    await p.getByRole('table', { name: 'API keys' }).waitFor();
    await p.route('**/api/v0/auth/apikeys/', (r) =>
      r.fulfill({ status: 500, contentType: 'application/json', body: '{"success":false,"error":"x","msg":"keys broke"}' }),
    );
    await p.reload();
    const keys = p.locator('section[aria-labelledby="keys-title"]');
    await keys.getByRole('alert').getByText('keys broke').waitFor();
    assert.equal(await keys.getByText('Nothing here yet.').count(), 0);
    assert.equal(await p.getByRole('table', { name: 'API keys' }).count(), 0);
    await p.context().close();

    const k = await g.api('POST', '/api/v0/auth/apikeys/', { name: 'revoked mid-session' });
    assert.equal(k.status, 200, k.text);
    const q = await page('#/machines', k.body.key as string);
    await q.getByRole('table', { name: 'Machines' }).waitFor();
    assert.equal((await g.api('DELETE', `/api/v0/auth/apikeys/${k.body.id}/`)).status, 200);
    await q.evaluate(() => void ((globalThis as unknown as { location: { hash: string } }).location.hash = '#/account'));
    await q.getByRole('button', { name: 'Log in' }).waitFor();
    await q.getByRole('alert').getByText('The API key is not valid.').waitFor();
    assert.equal(await q.getByText('Nothing here yet.').count(), 0);
    await q.context().close();
  });

  it('both pages pass axe on a phone-sized viewport', async () => {
    for (const hash of ['#/machines', '#/account']) {
      const p = await page(hash, undefined, PHONE);
      await p.getByRole('heading', { level: 1 }).waitFor();
      await p.locator('main table').first().waitFor();
      await checkA11y(p, `${hash}, 390×844`);
    }
  });

  it('a key with only machine_read sees Machines without actions and no Account', async () => {
    const r = await g.api('POST', '/api/v0/auth/apikeys/', { name: 'ro', permissions: { api: { machine_read: {} } } });
    assert.equal(r.status, 200, r.text);
    const p = await page('#/machines', r.body.key as string);
    const table = p.getByRole('table', { name: 'Machines' });
    await table.getByText('2× RTX 4090').waitFor();
    assert.equal(await table.getByRole('columnheader', { name: /Actions/ }).count(), 0);
    assert.equal(
      await p.getByRole('button', { name: /^(List machine|Change listing|Unlist|Schedule maintenance|Cancel maintenance|Make a host token)/ }).count(),
      0,
    );
    assert.equal(await p.getByRole('heading', { name: 'Add a host' }).count(), 0);
    assert.equal(await p.getByRole('navigation', { name: 'Console pages' }).getByRole('link', { name: 'Account' }).count(), 0);
  });
});
