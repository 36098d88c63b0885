import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { joinSecondHost, type SecondHost } from '../helpers/second-host.js';
import { TEST_STORES } from '../helpers/stores.js';
import { agentMachineInfo } from '../helpers/machines.js';

/**
 * The agent protocol refuses what it must: no token, a token of another machine, a session of another
 * machine, replayed or reordered messages, malformed bodies. Each refusal is a 4xx in the protocol's error
 * shape, and the store does not change (the machine list and the instance are compared before and after).
 */
const machineInfo = agentMachineInfo();

const ts = TEST_STORES.find((s) => s.name === 'sqlite') ?? TEST_STORES[0];

describe('agent protocol: bad input and security', { skip: ts?.skip ?? 'no store' }, () => {
  let g: TestGantry;
  let tokenA: string;
  let tokenB: string;
  let a: { machineId: number; session: string };
  let b: { machineId: number; session: string };

  const post = async (path: string, body: unknown, token: string | null): Promise<{ status: number; body: any }> => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token !== null) headers.authorization = `Bearer ${token}`;
    const res = await fetch(`${g.url}/agent/v1/${path}`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, body: JSON.parse(text) as unknown };
  };
  const snapshot = async (): Promise<string> =>
    JSON.stringify((await g.api('GET', '/api/v0/machines/')).body.machines.map((m: any) => ({ ...m, last_seen: 0 })));

  before(async () => {
    // The host sweep asks each connected agent to list its workloads, once when it connects and then every
    // observeIntervalMs; these tests poll sessions by hand and expect only the commands they cause, so
    // the sweep is held off for the file.
    g = await startTestGantry(ts!, { localHost: false, settings: { observeIntervalMs: 600_000 } });
    tokenA = (await g.api('POST', '/api/v0/host_tokens/', { name: 'a' })).body.token as string;
    tokenB = (await g.api('POST', '/api/v0/host_tokens/', { name: 'b' })).body.token as string;
    const ha = await post('hello', { hostKey: 'host-a', imageNotice: null, machine: machineInfo }, tokenA);
    const hb = await post('hello', { hostKey: 'host-b', imageNotice: null, machine: { ...machineInfo, hostname: 'h2' } }, tokenB);
    assert.equal(ha.status, 200, JSON.stringify(ha.body));
    assert.equal(hb.status, 200);
    a = { machineId: ha.body.machineId as number, session: ha.body.session as string };
    b = { machineId: hb.body.machineId as number, session: hb.body.session as string };
  });
  after(() => g.dispose());

  it('refuses a missing or unknown token with 401', async () => {
    const none = await post('hello', { hostKey: 'x', imageNotice: null, machine: machineInfo }, null);
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, 'UNAUTHENTICATED');
    assert.equal((await post('hello', { hostKey: 'x', imageNotice: null, machine: machineInfo }, 'ght_forged')).status, 401);
    assert.equal((await post('heartbeat', { ...a, seq: 1, gpuUtils: null, usage: [], exited: [] }, null)).status, 401);
    // An API key is not a host token.
    assert.equal((await post('hello', { hostKey: 'x', imageNotice: null, machine: machineInfo }, g.adminKey)).status, 401);
  });

  it('refuses a token for machine A used for machine B, at hello and after; nothing changes', async () => {
    const before = await snapshot();
    const hijack = await post('hello', { hostKey: 'host-b', imageNotice: null, machine: { ...machineInfo, numGpus: 8 } }, tokenA);
    assert.equal(hijack.status, 403);
    assert.equal(hijack.body.error.code, 'FORBIDDEN');
    const cross = await post('heartbeat', { ...b, seq: 1, gpuUtils: null, usage: [], exited: [] }, tokenA);
    assert.equal(cross.status, 403, 'a session opened with token B does not take token A');
    const wrongMachine = await post('heartbeat', { machineId: b.machineId, session: a.session, seq: 1, gpuUtils: null, usage: [], exited: [] }, tokenA);
    assert.equal(wrongMachine.status, 403, "A's session cannot speak for machine B");
    assert.equal(await snapshot(), before);
  });

  it('refuses replayed and reordered messages with 409 STALE_REPORT', async () => {
    const ok = await post('heartbeat', { ...a, seq: 5, gpuUtils: [10, 20], usage: [], exited: [] }, tokenA);
    assert.equal(ok.status, 200);
    const replay = await post('heartbeat', { ...a, seq: 5, gpuUtils: [99, 99], usage: [], exited: [] }, tokenA);
    assert.equal(replay.status, 409);
    assert.equal(replay.body.error.code, 'STALE_REPORT');
    assert.equal((await post('results', { ...a, seq: 3, results: [] }, tokenA)).status, 409, 'an older sequence number');
    const m = (await g.api('GET', '/api/v0/machines/')).body.machines.find((x: any) => x.id === a.machineId);
    assert.deepEqual(m.gpu_util, [10, 20], 'the replay changed nothing');
  });

  it('a stale session (replaced by a new hello) gets 409 AGENT_SESSION_STALE', async () => {
    const again = await post('hello', { hostKey: 'host-a', imageNotice: null, machine: machineInfo }, tokenA);
    assert.equal(again.status, 200);
    assert.equal(again.body.machineId, a.machineId, 'the same host key is the same machine');
    const stale = await post('poll', { ...a, waitMs: 0 }, tokenA);
    assert.equal(stale.status, 409);
    assert.equal(stale.body.error.code, 'AGENT_SESSION_STALE');
    a = { machineId: again.body.machineId as number, session: again.body.session as string };
    assert.deepEqual((await post('poll', { ...a, waitMs: 0 }, tokenA)).body, { commands: [] });
  });

  it('names the field of a malformed message (400), and wrong types are not coerced', async () => {
    const r = await post('hello', { hostKey: 'host-a', imageNotice: null, machine: { ...machineInfo, numGpus: '2' } }, tokenA);
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'INVALID_ARGUMENT');
    assert.match(r.body.error.message, /machine\.numGpus/);
    assert.equal((await post('heartbeat', '{not json', tokenA)).status, 400);
    assert.equal((await post('heartbeat', { ...a, seq: -1, gpuUtils: null, usage: [], exited: [] }, tokenA)).status, 400);
    assert.equal((await post('hello', { hostKey: 'h', imageNotice: null, machine: { ...machineInfo, portRangeEnd: 1 } }, tokenA)).status, 400);
    const get = await fetch(`${g.url}/agent/v1/hello`);
    assert.equal(get.status, 404);
    const unknown = await post('bogus', {}, tokenA);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.message, "The agent protocol has no message 'bogus'.");
  });

  it('usage reports land only on instances of the reporting machine', async () => {
    const ra = await g.api('PUT', `/api/v0/asks/${a.machineId * 1000 + 1}/`, { image: 'x', onstart: 'sleep 1' });
    assert.equal(ra.status, 200);
    const id = ra.body.new_contract as number;
    const seq = Date.now();
    const r = await post(
      'heartbeat',
      { ...b, seq, gpuUtils: null, usage: [{ instanceId: id, cpuUtil: 99, memUsageMb: 1, diskUsageMb: 1 }], exited: [] },
      tokenB,
    );
    assert.equal(r.status, 200);
    const usage = await g.store.usageOf([id]);
    assert.equal(usage.size, 0, "machine B cannot write usage onto machine A's instance");
  });

  it('a scripted agent over raw HTTP: commands come by long poll, results drive the instance, usage and GPU load show', async () => {
    const r = await g.api('PUT', `/api/v0/asks/${a.machineId * 1000 + 1}/`, { image: 'x', onstart: 'sleep 1' });
    assert.equal(r.status, 200, r.text);
    const id = r.body.new_contract as number;
    const started = new Set<number>();
    let seq = 0;
    let spec: any = null;
    const deadline = Date.now() + 15_000;
    for (;;) {
      const row = (await g.api('GET', `/api/v0/instances/${id}/`)).body.instances;
      if (row.actual_status === 'running') break;
      assert.ok(Date.now() < deadline, `instance did not run: ${JSON.stringify(row.status_msg)}`);
      const polled = await post('poll', { ...a, waitMs: 300 }, tokenA);
      assert.equal(polled.status, 200);
      const results = (polled.body.commands as any[]).map((c) => {
        if (c.op === 'start') {
          started.add(c.spec.instanceId as number);
          if (c.spec.instanceId === id) spec = c.spec;
          return { id: c.id, ok: true, value: null };
        }
        if (c.op === 'inspect') return { id: c.id, ok: true, value: started.has(c.instanceId as number) ? { state: 'running' } : { state: 'absent' } };
        if (c.op === 'list') return { id: c.id, ok: true, value: [...started] };
        return { id: c.id, ok: false, error: `unexpected ${String(c.op)}` };
      });
      if (results.length > 0) assert.equal((await post('results', { ...a, seq: ++seq, results }, tokenA)).status, 200);
    }
    assert.equal(spec.env.CONTAINER_ID, String(id), 'the workload spec travels with the start command');
    assert.match(spec.env.CONTAINER_API_KEY as string, /^gik_/);
    const usage = [{ instanceId: id, cpuUtil: 55, memUsageMb: 512, diskUsageMb: 10 }];
    const hb = await post('heartbeat', { ...a, seq: ++seq, gpuUtils: [30, 70], usage, exited: [] }, tokenA);
    assert.equal(hb.status, 200);
    const row = (await g.api('GET', `/api/v0/instances/${id}/`)).body.instances;
    assert.equal(row.cpu_util, 55);
    assert.equal(row.mem_usage, 0.512);
    // Vast's unit is GB; a workload under a MB is not shown as using nothing.
    const small = [{ instanceId: id, cpuUtil: 1, memUsageMb: 0.4, diskUsageMb: 10 }];
    assert.equal((await post('heartbeat', { ...a, seq: ++seq, gpuUtils: [30, 70], usage: small, exited: [] }, tokenA)).status, 200);
    assert.equal((await g.api('GET', `/api/v0/instances/${id}/`)).body.instances.mem_usage, 0.0004);
    assert.equal(row.gpu_util, [30, 70][(row.gpu_indices as number[])[0] as number], "the mean load of the instance's own GPUs");
  });

  it('fuzz: any body on any agent endpoint is a 4xx (never a 5xx) and the machines do not change', async () => {
    const before = await snapshot();
    const tokens = fc.constantFrom(tokenA, tokenB, 'ght_x', null);
    const bodies = fc.oneof(
      fc.jsonValue(),
      fc.record({
        machineId: fc.oneof(fc.integer(), fc.string()),
        session: fc.oneof(fc.constant(a.session), fc.string()),
        seq: fc.integer({ min: -5, max: 3 }),
      }),
      fc.record({ hostKey: fc.constantFrom('host-a', 'host-b'), imageNotice: fc.constant(null), machine: fc.dictionary(fc.string(), fc.jsonValue()) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('hello', 'heartbeat', 'poll', 'results', 'nope'), bodies, tokens, async (path, body, token) => {
        const r = await post(path, body, token);
        assert.ok(r.status >= 400 && r.status < 500, `${path} ${JSON.stringify(body)} → ${r.status}`);
        assert.equal(typeof r.body.error.code, 'string');
      }),
      { numRuns: 150 },
    );
    assert.equal(await snapshot(), before);
  });

  it("an account other than an admin holds at most maxHostTokensPerAccount host tokens, and an admin's fleet is unbounded", async () => {
    const u = await g.api('POST', '/api/v0/users/', { username: 'few-hosts', email: 'few-hosts@example.com' });
    const key = u.body.api_key as string;
    const max = g.control.ctx.settings.maxHostTokensPerAccount;
    for (let i = 0; i < max; i++) assert.equal((await g.api('POST', '/api/v0/host_tokens/', { name: `h${i}` }, { key })).status, 200);
    const over = await g.api('POST', '/api/v0/host_tokens/', { name: 'one more' }, { key });
    assert.equal(over.status, 400, over.text);
    assert.equal(over.body.code, 'HOST_TOKEN_LIMIT');
    assert.match(over.body.msg as string, new RegExp(`at most ${max} host tokens`));
    for (let i = 0; i <= max; i++) assert.equal((await g.api('POST', '/api/v0/host_tokens/', { name: `admin${i}` })).status, 200);
  });
});

describe('agent protocol: messages per host token are rate-limited, and an agent told to wait loses nothing', { skip: ts?.skip ?? 'no store' }, () => {
  let g: TestGantry;
  let second: SecondHost | null = null;
  // Bursts of 2 a token; the embedded host (no wire) is not limited.
  before(async () => {
    g = await startTestGantry(ts!, { settings: { agentMessageRate: 1 } });
  });
  after(async () => {
    await second?.dispose();
    await g.dispose();
  });

  const post = async (path: string, body: unknown, token: string) =>
    fetch(`${g.url}/agent/v1/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });

  it('past its burst a host token gets 429 RATE_LIMITED with Retry-After, before its body is read; other tokens are not held back; it passes again later', async () => {
    const [c, d] = await Promise.all(['c', 'd'].map(async (name) => (await g.api('POST', '/api/v0/host_tokens/', { name })).body.token as string));
    const hello = await post('hello', { hostKey: 'host-c', imageNotice: null, machine: machineInfo }, c as string);
    assert.equal(hello.status, 200);
    const s = (await hello.json()) as { machineId: number; session: string };
    const beat = (seq: number) => post('heartbeat', { machineId: s.machineId, session: s.session, seq, gpuUtils: null, usage: [], exited: [] }, c as string);
    const statuses: number[] = [];
    let refused: Response | null = null;
    for (let seq = 1; seq <= 12 && refused === null; seq++) {
      const r = await beat(seq);
      statuses.push(r.status);
      if (r.status === 429) refused = r;
      else await r.arrayBuffer();
    }
    assert.ok(refused !== null, `never refused: ${statuses.join(',')}`);
    assert.ok(statuses.length > 1, `refused within the burst: ${statuses.join(',')}`);
    const body = (await refused.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'RATE_LIMITED');
    assert.match(body.error.message, /at most 1 per second/);
    const wait = Number(refused.headers.get('retry-after'));
    assert.ok(wait >= 1, 'Retry-After says when');
    // A spent token is refused before its body is read: even a body that is not JSON is a 429, not a 400.
    const early = await fetch(`${g.url}/agent/v1/heartbeat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${c}` },
      body: '{not json',
    });
    assert.equal(early.status, 429);
    // Another host token has a bucket of its own.
    assert.equal((await post('hello', { hostKey: 'host-d', imageNotice: null, machine: { ...machineInfo, hostname: 'h-d' } }, d as string)).status, 200);
    await new Promise((r) => setTimeout(r, wait * 1000 + 200));
    assert.equal((await beat(100)).status, 200, 'the bucket filled again');
  });

  it('an agent over HTTP held to one message a second still starts and stops an instance: refused messages are sent again', async () => {
    const refused = async (): Promise<number> => {
      const m = /gantry_http_requests_total\{dialect="agent",code="4xx"\} (\d+)/.exec((await g.api('GET', '/metrics')).text);
      return Number(m?.[1] ?? 0);
    };
    const before = await refused();
    second = await joinSecondHost(g, { channel: 'http' });
    const machine = second.machineId;
    const rented = await g.api('PUT', `/api/v0/asks/${machine * 1000 + 1}/`, { image: 'x', onstart: 'sleep 300', runtype: 'ssh' });
    assert.equal(rented.status, 200, rented.text);
    const id = rented.body.new_contract as number;
    await g.waitInstance(id, (i) => i.actual_status === 'running', 90_000);
    assert.equal((await g.api('PUT', `/api/v0/instances/${id}/`, { state: 'stopped' })).status, 200);
    await g.waitInstance(id, (i) => i.actual_status === 'stopped', 90_000);
    // The agent's only 4xx here are its 429s.
    assert.ok((await refused()) > before, 'the agent was told to wait at least once');
  });

  it('hellos with tokens that are not valid spend their client address’s bucket; a token known here keeps its own', async () => {
    const known = (await g.api('POST', '/api/v0/host_tokens/', { name: 'known' })).body.token as string;
    const hello = (token: string) => post('hello', { hostKey: 'host-k', imageNotice: null, machine: { ...machineInfo, hostname: 'h-k' } }, token);
    assert.equal((await hello(known)).status, 200, 'its first hello makes its bucket');
    const statuses: number[] = [];
    let refused: Response | null = null;
    for (let i = 0; i < 12 && refused === null; i++) {
      const r = await hello(`ght_guess${i}`);
      statuses.push(r.status);
      if (r.status === 429) refused = r;
      else await r.arrayBuffer();
    }
    assert.ok(refused !== null, `never refused: ${statuses.join(',')}`);
    assert.deepEqual([...new Set(statuses.slice(0, -1))], [401], 'refused for the token until the address spent its bucket');
    const body = (await refused.json()) as { error: { code: string; message: string } };
    assert.match(body.error.message, /not valid, from one client address/);
    // Refused before its body is read, whatever the route.
    assert.equal((await fetch(`${g.url}/agent/v1/hello`, { method: 'POST', headers: { authorization: 'Bearer nope' }, body: '{' })).status, 429);
    assert.equal((await hello(known)).status, 200, 'a token with a bucket of its own is not held back');
    // Leave the address's bucket full for what runs next.
    await new Promise((r) => setTimeout(r, Number(refused.headers.get('retry-after')) * 1000 + 1_200));
    assert.equal((await hello('ght_later')).status, 401);
  });
});
