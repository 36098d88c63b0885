import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { machineReg } from '../helpers/machines.js';
import { createDeployment, SERVERLESS_FAST, until, WORKER_ONSTART } from '../helpers/serverless.js';
import { ONE_STORE } from '../helpers/stores.js';
import { startVastClients, vastClientsMissing, type CliResult, type VastClients } from '../helpers/vast-clients.js';
import { compareWithExpected, formatTable, toExpected, type Expected, type Outcome } from './expected.js';
import { judge } from './judge.js';
import { cliVerbs, sdkVerbs, type Client, type Fixtures, type VerbCase } from './verbs.js';

/**
 * The compatibility suite: every verb of the official Vast clients (both CLIs, the `VastAI` SDK class and
 * the serverless client), run unchanged against one loopback Gantry and judged by its output
 * (test/compat/judge.ts). It fails on a regression against test/compat/vast-verbs.expected.json and
 * reports improvements; GANTRY_COMPAT_UPDATE=1 rewrites that file from the run (then `npm run docs`).
 * GANTRY_COMPAT_VERBOSE=1 prints every output.
 */
const root = fileURLToPath(new URL('../../../', import.meta.url));
export const EXPECTED_FILE = join(root, 'test', 'compat', 'vast-verbs.expected.json');
const store = ONE_STORE[0]!;
/** The label of the instances the suite rents itself, which a verb's clean-up must leave alone. */
const RENTED_LABEL = 'compat-rented';
const skip = store.skip || vastClientsMissing();

/** An OpenSSH public key line, as `ssh-keygen` writes it. */
function sshPublicKey(comment: string): string {
  const der = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' });
  const raw = der.subarray(der.length - 32);
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return `ssh-ed25519 ${Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]).toString('base64')} ${comment}`;
}

describe('every verb of the official Vast clients against Gantry', { skip }, () => {
  let g: TestGantry;
  let vast: VastClients;
  let dir: string;
  const fixtures = new Map<Client, Fixtures>();
  let parserVerbs: Record<'legacy' | 'vastai', string[]>;
  let rent: (bid?: number) => Promise<number>;

  const api = async (method: string, path: string, body?: unknown, key?: string) => {
    const t = Date.now();
    const r = await g.api(method, path, body, key !== undefined ? { key } : {});
    if (process.env.GANTRY_COMPAT_VERBOSE === '1' && Date.now() - t > 300) process.stderr.write(`fixtures: ${method} ${path} took ${Date.now() - t} ms\n`);
    if (r.status !== 200) throw new Error(`fixture ${method} ${path}: ${r.status} ${r.text}`);
    return r.body;
  };
  /** A fixture whose route may not exist yet: its id, or a stand-in the verb will then fail on. */
  const maybe = async <T>(f: () => Promise<T>, fallback: T): Promise<T> => {
    try {
      return await f();
    } catch {
      return fallback;
    }
  };

  before(async () => {
    const t0 = Date.now();
    const step = (what: string) => {
      if (process.env.GANTRY_COMPAT_VERBOSE === '1') process.stderr.write(`fixtures: ${what} at ${Date.now() - t0} ms\n`);
    };
    g = await startTestGantry(store, { gpus: '24x RTX 4090:24GB', settings: { ...SERVERLESS_FAST, machineCacheMs: 0 } });
    vast = startVastClients(g.url, g.adminKey as string, { timeoutS: 30 });
    dir = mkdtempSync(join(tmpdir(), 'gantry-compat-'));
    const admin = await api('GET', '/api/v0/users/current/');
    const machine = (await api('GET', '/api/v0/machines/')).machines[0].id as number;
    const offer = machine * 1000 + 1;
    const permissionsFile = join(dir, 'permissions.json');
    writeFileSync(permissionsFile, JSON.stringify({ api: { instance_read: {}, misc: {} } }));
    const userFile = join(dir, 'user.json');
    writeFileSync(userFile, JSON.stringify({ fullname: 'Compat User' }));
    const localDir = join(dir, 'local');
    mkdirSync(localDir);
    writeFileSync(join(localDir, 'hello.txt'), 'hello');

    // The endpoint with a real worker that the serverless client calls, shared by every client (read only).
    const live = await api('POST', '/api/v0/endptjobs/', {
      endpoint_name: 'compat-live',
      min_load: 0,
      cold_workers: 0,
      min_workers: 0,
      max_workers: 1,
      target_util: 1,
    });
    const liveWg = await api('POST', '/api/v0/autojobs/', {
      endpoint_name: 'compat-live',
      image: 'local/worker',
      onstart: WORKER_ONSTART,
      env: '-e WORKER_PERF=2 -p 8000:8000',
      search_params: 'num_gpus=1',
      test_workers: 0,
    });

    rent = async (bid?: number) =>
      (
        await api('PUT', `/api/v0/asks/${offer}/`, {
          label: RENTED_LABEL,
          image: 'vastai/base-image',
          onstart: 'sleep 600',
          runtype: 'ssh',
          disk: 10,
          ...(bid !== undefined ? { price: bid } : {}),
        })
      ).new_contract as number;
    // Credit for the admin (an admin's transfer is a deposit), so `prepay instance` has something to prepay.
    await api('PUT', '/api/v0/commands/transfer_credit/', { recipient: String(admin.id), amount: 100 });
    // Volume space on the main machine (its host is connected: a clone needs it), as `search volumes` shows it.
    const volumeOffer = (await api('POST', '/api/v0/volumes', { machine: machine, size: 60 })).volume_offers[0].id as number;
    // SSH keys before any instance: a new key is written into every instance of the account.
    const sshKeys = new Map<Client, { sshKey: string; sshKeyId: number }>();
    for (const tag of ['legacy', 'vastai', 'sdk'] as const) {
      const sshKey = sshPublicKey(`${tag}@compat`);
      sshKeys.set(tag, { sshKey, sshKeyId: (await api('POST', '/api/v0/ssh/', { ssh_key: sshKey })).key.id as number });
    }
    for (const tag of ['legacy', 'vastai', 'sdk'] as const) {
      step(tag);
      const main = await rent();
      const apiKeyId = (await api('POST', '/api/v0/auth/apikeys/', { name: `fixture-${tag}`, permissions: { api: { instance_read: {} } } })).id as number;
      const resetKey = (await api('POST', '/api/v0/auth/apikeys/', { name: `reset-${tag}` })).key as string;
      const endpointName = `compat-${tag}`;
      const endpointId = (
        await api('POST', '/api/v0/endptjobs/', { endpoint_name: endpointName, min_load: 0, cold_workers: 0, min_workers: 0, max_workers: 1 })
      ).result as number;
      const workergroupId = (
        await api('POST', '/api/v0/autojobs/', {
          endpoint_name: endpointName,
          image: 'vastai/base-image',
          onstart: 'sleep 600',
          search_params: 'num_gpus=1',
          test_workers: 0,
        })
      ).id as number;
      const deploymentId = (await createDeployment(g, `compat-${tag}-dep`, { max_workers: 0 })).id;
      const team = await api('POST', '/api/v0/team/', { team_name: `compat-${tag}` });
      const teamKey = team.api_key as string;
      const roleName = `role-${tag}`;
      await api('POST', '/api/v0/team/roles/', { name: roleName, permissions: { api: { instance_read: {} } } }, teamKey);
      await api('POST', '/api/v0/users/', { username: `member-${tag}`, email: `member-${tag}@example.com` });
      const memberId = (await api('POST', '/api/v0/team/invite/', { email: `member-${tag}@example.com`, role: roleName }, teamKey)).user_id as number;
      await api('POST', '/api/v0/users/', { username: `invitee-${tag}`, email: `invitee-${tag}@example.com` });
      await api('POST', '/api/v0/users/', { username: `recipient-${tag}`, email: `recipient-${tag}@example.com` });
      // A silent host (no agent, last seen an hour ago): delete machine takes only a machine whose agent is gone.
      const spareMachine = (
        await g.store.registerMachine({ ...machineReg(`compat-spare-${tag}`, admin.id as number, 1), gpuName: 'Tesla T4' }, Date.now() - 3_600_000)
      ).id;
      const template = await maybe(
        async () =>
          (
            await api('POST', '/api/v0/template/', {
              name: `compat-${tag}`,
              image: 'vastai/base-image',
              onstart: 'sleep 600',
              extra_filters: { num_gpus: { eq: 1 } },
            })
          ).template,
        { id: 1, hash_id: '0000000000000000compat' },
      );
      const launchKey = (await api('POST', '/api/v0/users/', { username: `launcher-${tag}`, email: `launcher-${tag}@example.com`, credit: 10 }))
        .api_key as string;
      const volumeId = (await api('PUT', '/api/v0/volumes/', { id: volumeOffer, size: 5, name: `fixture-${tag}` })).volume_id as number;
      // Each client unlists its own offer, so the shared one stays listed for the others.
      const spareVolumeOffer = (await api('POST', '/api/v0/volumes', { machine: spareMachine, size: 10 })).volume_offers[0].id as number;
      fixtures.set(tag, {
        url: g.url,
        adminKey: g.adminKey as string,
        resetKey,
        machine,
        spareMachine,
        offer,
        instance: main,
        fresh: [],
        apiKeyId,
        ...sshKeys.get(tag)!,
        endpointId,
        endpointName,
        liveEndpointId: live.result as number,
        liveEndpointName: 'compat-live',
        liveWorkergroupId: liveWg.id as number,
        workergroupId,
        deploymentId,
        teamKey,
        roleName,
        memberId,
        inviteEmail: `invitee-${tag}@example.com`,
        recipientEmail: `recipient-${tag}@example.com`,
        templateHash: template.hash_id as string,
        templateId: template.id as number,
        launchKey,
        volumeOffer,
        volumeId,
        spareVolumeOffer,
        permissionsFile,
        userFile,
        localDir,
        tag,
      });
    }
    step('made');
    // Bounded: an instance that is late still gets its verbs, judged as they come out.
    await Promise.all([...fixtures.values()].map((f) => g.waitInstance(f.instance, (x) => x.actual_status === 'running', 120_000).catch(() => undefined)));
    // Demand on the live endpoint recruits its worker (as a client's /route/ polling does), so the worker verbs see one.
    const first = await api('POST', '/route/', { endpoint: 'compat-live', cost: 1, request_idx: 0 });
    await until(
      'a routed worker on the live endpoint',
      async () => typeof (await g.api('POST', '/route/', { endpoint: 'compat-live', cost: 1, request_idx: first.request_idx })).body?.url === 'string',
      90_000,
    ).catch(() => undefined);
    step('running');
    // The verbs each CLI really has, from its own parser: a verb missing from verbs.ts fails the suite.
    const listed = await vast.sdk(`
import importlib.util, io, contextlib
spec = importlib.util.spec_from_file_location("vast_legacy", __import__("os").path.join(__import__("sys").path[0], "vast.py"))
m = importlib.util.module_from_spec(spec)
with contextlib.redirect_stdout(io.StringIO()):
    spec.loader.exec_module(m)
from vastai.cli.main import parser as p2
from vastai.cli.commands import instances, offers, machines, teams, keys, endpoints, billing, storage, auth, misc, deployments, metrics, benchmarks, price_increase, update, uninstall
def verbs(p):
    seen, out = set(), []
    for name, sp in p.subparsers_.choices.items():
        if id(sp) not in seen:
            seen.add(id(sp)); out.append(name)
    return out
print(json.dumps({"legacy": verbs(m.parser), "vastai": verbs(p2)}))`);
    step('verbs listed');
    parserVerbs = JSON.parse(listed.out.trim().split('\n').pop() as string) as typeof parserVerbs;
  });

  after(async () => {
    vast?.close();
    await g?.dispose();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const cases: Record<Client, VerbCase[]> = { legacy: cliVerbs('legacy'), vastai: cliVerbs('vastai'), sdk: sdkVerbs() };

  it('lists a concrete invocation for every verb of both CLIs', () => {
    for (const c of ['legacy', 'vastai'] as const) {
      const covered = new Set(cases[c].map((x) => x.verb.replace(/ -- .*$/, '')));
      const missing = parserVerbs[c].filter((verb) => !covered.has(verb));
      assert.deepEqual(missing, [], `${c} verbs without an invocation in test/compat/verbs.ts`);
      assert.ok(parserVerbs[c].length > 100, `${c}: ${parserVerbs[c].length} verbs`);
    }
  });

  it("a key without a scope: the client shows Vast's refusal, and nothing is created", async () => {
    const key = (await api('POST', '/api/v0/auth/apikeys/', { name: 'reader', permissions: { api: { instance_read: {} } } })).key as string;
    // Ids, not a count: a fixture destroyed during setup may leave the list while this runs.
    const ids = async () => ((await api('GET', '/api/v0/instances/')).instances as { id: number }[]).map((i) => i.id);
    const before = new Set(await ids());
    const r = await vast.legacy(['create', 'instance', String(fixtures.get('legacy')!.offer), '--image', 'x', '--disk', '1'], key);
    assert.match(r.out, /instance_write/);
    assert.deepEqual(
      (await ids()).filter((id) => !before.has(id)),
      [],
      'no instance was created',
    );
  });

  it('runs every verb and compares with the expected results', { timeout: 1_500_000 }, async () => {
    const started = Date.now();
    const update = process.env.GANTRY_COMPAT_UPDATE === '1';
    // Updating records as it goes, so an interrupted run still leaves what it saw.
    const recorded: Outcome[] = [];
    const record = (o: Outcome): void => {
      recorded.push(o);
      writeFileSync(EXPECTED_FILE, `${JSON.stringify(toExpected(recorded), null, 2)}\n`);
    };
    // Instances a verb may have made: new since it started (every instance then counts as old, whatever its label:
    // another client relabels its own rental meanwhile), and neither workers nor the suite's own rentals.
    const instances = async (key?: string): Promise<{ id: number; label: string | null }[]> =>
      (await g.api('GET', '/api/v0/instances/', undefined, key !== undefined ? { key } : {})).body.instances as { id: number; label: string | null }[];
    const allIds = async (key?: string): Promise<number[]> => (await instances(key)).map((i) => i.id);
    const instanceIds = async (key?: string): Promise<number[]> =>
      (await instances(key)).filter((i) => !/ worker$/.test(i.label ?? '') && i.label !== RENTED_LABEL).map((i) => i.id);
    const settle = async (id: number, state: string): Promise<boolean> =>
      g
        .waitInstance(id, (x) => x.actual_status === state && x.gantry_pending_op === null, 60_000)
        .then(
          () => true,
          () => false,
        );
    // The clients run side by side, each on its own instance and fixtures.
    const run = async (c: Client): Promise<Outcome[]> => {
      const out: Outcome[] = [];
      const base = fixtures.get(c)!;
      await settle(base.instance, 'running');
      for (const x of cases[c]) {
        const fresh: number[] = [];
        for (let i = 0; i < (x.fresh ?? 0); i++) fresh.push(await rent(x.freshBid));
        const f = { ...base, fresh };
        const key = x.key?.(f);
        const before = x.creates ? new Set(await allIds(key)) : null;
        const t0 = Date.now();
        const args = x.run(f);
        let r: CliResult;
        if (Array.isArray(args)) r = c === 'legacy' ? await vast.legacy(args, key, x.input) : await vast.vastai(args, key, x.input);
        else r = await vast.sdk(args.code);
        const ms = Date.now() - t0;
        let j = judge(r.out, r.code, x);
        if (before !== null)
          for (const id of (await instanceIds(key)).filter((i) => !before.has(i)))
            await g.api('DELETE', `/api/v0/instances/${id}/`, undefined, key !== undefined ? { key } : {});
        // What a verb left of its fresh instances (a destroy verb leaves none).
        for (const id of fresh) if ((await g.api('GET', `/api/v0/instances/${id}/`)).status === 200) await g.api('DELETE', `/api/v0/instances/${id}/`);
        // A lifecycle verb passes only when the instance really gets there.
        if (x.settle !== undefined && !(await settle(base.instance, x.settle)) && j.result === 'pass')
          j = { result: 'fail', reason: `the instance did not become ${x.settle}` };
        out.push({ client: c, verb: x.verb, ...j, ms });
        if (update) record({ client: c, verb: x.verb, ...j, ms });
        if (process.env.GANTRY_COMPAT_VERBOSE === '1') process.stderr.write(`\n=== ${c} ${x.verb} → ${j.result} (${ms} ms)\n${r.out}\n`);
      }
      return out;
    };
    const outcomes = (await Promise.all((['legacy', 'vastai', 'sdk'] as const).map(run))).flat();
    const seconds = (Date.now() - started) / 1000;
    process.stdout.write(`${formatTable(outcomes)}\n${outcomes.length} client verbs in ${seconds.toFixed(1)} s\n`);

    if (update) {
      writeFileSync(EXPECTED_FILE, `${JSON.stringify(toExpected(outcomes), null, 2)}\n`);
      process.stdout.write(`rewrote ${EXPECTED_FILE}; run \`npm run docs\` to update docs/vast-compat.md\n`);
      return;
    }
    const expected = JSON.parse(readFileSync(EXPECTED_FILE, 'utf8')) as Expected;
    const cmp = compareWithExpected(expected, outcomes);
    if (cmp.improvements.length > 0)
      process.stdout.write(`improvements (GANTRY_COMPAT_UPDATE=1 records them):\n${cmp.improvements.map((l) => `  ${l}`).join('\n')}\n`);
    assert.deepEqual(cmp.regressions, [], 'verbs that worked before no longer do');
  });
});
