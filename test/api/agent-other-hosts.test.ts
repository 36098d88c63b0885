import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hashKey } from '../../src/control/keys.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { agentMachineInfo } from '../helpers/machines.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * A host owner who is not the operator runs an agent of their own making and sends anything the protocol reads.
 * Whatever it sends must reach only its own machine and the instances on it: these tests speak the protocol over
 * real HTTP, an honest host beside a hostile one, and check that the hostile one's messages move nothing of the other.
 */
const machine = { ...agentMachineInfo(), isolation: 'sandboxed' };

interface Command {
  readonly id: string;
  readonly op: string;
  readonly instanceId?: number;
  readonly spec?: { readonly instanceId: number };
}

/** A host over raw HTTP: answers what `answer` returns (undefined: no answer), pushes `listing` with each heartbeat. */
class ScriptedHost {
  readonly ops: Command[] = [];
  machineId = 0;
  #session = '';
  #seq = 0;
  #stopped = false;
  #loop: Promise<void> | null = null;
  answer: (c: Command) => unknown = () => undefined;
  listing: () => unknown[] | undefined = () => undefined;

  constructor(
    readonly url: string,
    readonly token: string,
    readonly hostKey: string,
  ) {}

  async post(path: string, body: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(`${this.url}/agent/v1/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  }

  async hello(): Promise<void> {
    const h = await this.post('hello', { hostKey: this.hostKey, imageNotice: null, machine });
    assert.equal(h.status, 200, JSON.stringify(h.body));
    this.machineId = h.body.machineId as number;
    this.#session = h.body.session as string;
  }

  heartbeat(extra: Record<string, unknown> = {}): Promise<{ status: number; body: any }> {
    const listing = this.listing();
    return this.post('heartbeat', {
      ...this.#ids(),
      seq: ++this.#seq,
      gpuUtils: null,
      usage: [],
      exited: [],
      ...(listing !== undefined && { listing }),
      ...extra,
    });
  }

  /** Poll, answer, heartbeat, until `stop`. */
  run(): void {
    this.#loop = (async () => {
      while (!this.#stopped) {
        const p = await this.post('poll', { ...this.#ids(), waitMs: 100 });
        if (p.status !== 200) throw new Error(`poll: ${p.status} ${JSON.stringify(p.body)}`);
        const results = [];
        for (const c of p.body.commands as Command[]) {
          this.ops.push(c);
          const value = this.answer(c);
          if (value !== undefined) results.push({ id: c.id, ok: true, value });
        }
        if (results.length > 0) await this.post('results', { ...this.#ids(), seq: ++this.#seq, results });
        await this.heartbeat();
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }

  /** Commands of `op` for `instanceId` this host was sent. */
  sent(op: string, instanceId: number): number {
    return this.ops.filter((c) => c.op === op && (c.instanceId ?? c.spec?.instanceId) === instanceId).length;
  }

  #ids(): { machineId: number; session: string } {
    return { machineId: this.machineId, session: this.#session };
  }
}

/** An honest host's answers: what it started runs until it is stopped or destroyed. */
function honest(h: ScriptedHost, running: Set<number>): void {
  h.answer = (c) => {
    const id = c.instanceId ?? c.spec?.instanceId ?? 0;
    if (c.op === 'start') running.add(id);
    if (c.op === 'stop' || c.op === 'destroy') running.delete(id);
    if (c.op === 'inspect' || c.op === 'stop' || c.op === 'destroy') return running.has(id) ? { state: 'running' } : { state: 'absent' };
    if (c.op === 'list') return [...running].map((x) => ({ id: x, state: 'running' }));
    return null;
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** An account (its API key) and a way to make host tokens of it. */
const account = async (g: TestGantry, name: string): Promise<{ key: string; token: () => Promise<string> }> => {
  const key = (await g.api('POST', '/api/v0/users/', { username: name, credit: 100 })).body.api_key as string;
  return { key, token: async () => (await g.api('POST', '/api/v0/host_tokens/', { name }, { key })).body.token as string };
};
/** The renter's instance on one GPU of the machine. */
const rent = async (g: TestGantry, key: string, machineId: number): Promise<number> => {
  const r = await g.api('PUT', `/api/v0/asks/${machineId * 1000 + 1}/`, { image: 'x', onstart: 'sleep 1' }, { key });
  assert.equal(r.status, 200, r.text);
  return r.body.new_contract as number;
};

for (const ts of TEST_STORES) {
  describe(`agent protocol: a hostile host reaches only its own machine (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let bob: string;

    before(async () => {
      // The host sweep is held off: each test causes the commands it counts (the orphan test asks for its sweep).
      g = await startTestGantry(ts, { localHost: false, settings: { observeIntervalMs: 600_000 } });
      bob = (await account(g, 'bob')).key;
    });
    after(() => g.dispose());

    it("exits and progress naming another machine's instance make no command reach that machine, and write nothing", async () => {
      const alice = await account(g, 'alice-1');
      const mallory = await account(g, 'mallory-1');
      const a = new ScriptedHost(g.url, await alice.token(), 'alice-1');
      const m = new ScriptedHost(g.url, await mallory.token(), 'mallory-1');
      await a.hello();
      await m.hello();
      honest(a, new Set());
      a.run();
      try {
        const id = await rent(g, bob, a.machineId);
        await g.waitInstance(id, (row) => row.actual_status === 'loading' || row.actual_status === 'running', 10_000, bob);
        await g.waitInstance(id, (row) => row.actual_status === 'running', 10_000, bob);
        await sleep(300);
        const inspects = a.sent('inspect', id);
        // Made-up ids as well: they would wait as hints in the reconciler's memory.
        const made = Array.from({ length: 2000 }, (_, i) => 1_000_000 + i);
        for (let i = 0; i < 3; i++) {
          const r = await m.heartbeat({ exited: [id, ...made], progress: [{ instanceId: id, message: 'pulled by mallory' }] });
          assert.equal(r.status, 200, JSON.stringify(r.body));
        }
        await sleep(1000);
        assert.equal(a.sent('inspect', id), inspects, "mallory's exit reports had alice's host inspect bob's instance");
        const row = (await g.api('GET', `/api/v0/instances/${id}/`, undefined, { key: bob })).body.instances;
        assert.equal(row.actual_status, 'running');
        assert.equal(row.status_msg, null);
      } finally {
        await a.stop();
      }
    });

    it("a look's answer that is not an observation is a failure of the host's: no text in the renter's exit code or status", async () => {
      const mallory = await account(g, 'mallory-2');
      const m = new ScriptedHost(g.url, await mallory.token(), 'mallory-2');
      await m.hello();
      const forged = '\u001b[2J\u001b]0;owned\u0007';
      let looks = 0;
      m.answer = (c) => {
        if (c.op === 'list') return [];
        if (c.op !== 'inspect') return null;
        // The first look (before the start) finds nothing; every later one answers text for an exit code.
        return looks++ === 0 ? { state: 'absent' } : { state: 'exited', exitCode: forged };
      };
      m.run();
      try {
        const id = await rent(g, bob, m.machineId);
        const row = await g.waitInstance(id, (r) => typeof r.status_msg === 'string' && r.status_msg.includes('without an observation'), 10_000, bob);
        assert.equal(row.exit_code, null);
        assert.ok(!JSON.stringify(row).includes('owned'), JSON.stringify(row));
      } finally {
        await m.stop();
      }
    });

    it("a hello with a deleted machine's renamed host key does not bring that machine back", async () => {
      const mallory = await account(g, 'mallory-4');
      const m = new ScriptedHost(g.url, await mallory.token(), 'mallory-4');
      await m.hello();
      await g.store.deleteMachine(m.machineId, Date.now(), 'deleted by its owner');
      const token = await mallory.token();
      const again = new ScriptedHost(g.url, token, `deleted:${m.machineId}:mallory-4`);
      const r = await again.post('hello', { hostKey: again.hostKey, imageNotice: null, machine });
      // Refused as no host's key at all: one planted before the delete would make it fail on the unique key.
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error.code, 'INVALID_ARGUMENT');
      assert.match(r.body.error.message, /hostKey/);
      assert.equal(await g.store.getMachine(m.machineId, Date.now()), undefined, 'still deleted');
      const t = await g.store.findHostTokenByHash(hashKey(token));
      assert.equal(t?.machineId, null, 'the new token stays unbound');
    });

    it('hellos that race with one unbound token register one machine: a token is one machine in search', async () => {
      const mallory = await account(g, 'mallory-5');
      const token = await mallory.token();
      const hellos = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          new ScriptedHost(g.url, token, `mallory-5-${i}`).post('hello', { hostKey: `mallory-5-${i}`, imageNotice: null, machine }),
        ),
      );
      assert.equal(hellos.filter((h) => h.status === 200).length, 1, JSON.stringify(hellos.map((h) => h.status)));
      for (const h of hellos) if (h.status !== 200) assert.equal(h.body.error.code, 'FORBIDDEN');
      const mine = (await g.api('GET', '/api/v0/machines/', undefined, { key: mallory.key })).body.machines as unknown[];
      assert.equal(mine.length, 1);
    });
  });
}

for (const ts of TEST_STORES) {
  describe(`agent protocol: a hostile host and the host sweep (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let bob: string;

    before(async () => {
      // Sweeps often; a call the hostile host never answers is held long, past the test's own wait.
      g = await startTestGantry(ts, { localHost: false, settings: { observeIntervalMs: 200, agentCallTimeoutMs: 30_000 } });
      bob = (await account(g, 'bob')).key;
    });
    after(() => g.dispose());

    it("a host that lists another host's orphan does not hold off that host's removal of it", async () => {
      const mallory = await account(g, 'mallory-3');
      const alice = await account(g, 'alice-3');
      // Mallory says hello first: her listing is compared first in each sweep.
      const m = new ScriptedHost(g.url, await mallory.token(), 'mallory-3');
      const a = new ScriptedHost(g.url, await alice.token(), 'alice-3');
      await m.hello();
      await a.hello();
      // Mallory answers `list` (with what she pushes) and nothing else: a look or a destroy she takes never ends.
      m.listing = () => [];
      m.answer = (c) => (c.op === 'list' ? m.listing() : undefined);
      m.run();
      const running = new Set<number>();
      honest(a, running);
      a.listing = () => [...running].map((x) => ({ id: x, state: 'running' }));
      a.run();
      try {
        const id = await rent(g, bob, a.machineId);
        await g.waitInstance(id, (row) => row.actual_status === 'running', 10_000, bob);
        assert.equal((await g.api('DELETE', `/api/v0/instances/${id}/`, undefined, { key: bob })).status, 200);
        for (let i = 0; i < 100 && (await g.store.getInstance(id))?.status !== 'destroyed'; i++) await sleep(100);
        assert.equal((await g.store.getInstance(id))?.status, 'destroyed');
        const destroys = a.sent('destroy', id);
        // Something is left on alice's host under the destroyed instance's id (a workload made by hand, a destroy
        // it lost): an orphan, which the sweep removes. Mallory lists the same id first.
        m.listing = () => [{ id, state: 'running' }];
        await sleep(500);
        running.add(id);
        for (let i = 0; i < 100 && a.sent('destroy', id) === destroys; i++) await sleep(100);
        assert.ok(a.sent('destroy', id) > destroys, "alice's host was never told to remove the orphan");
      } finally {
        await Promise.all([a.stop(), m.stop()]);
      }
    });
  });
}
