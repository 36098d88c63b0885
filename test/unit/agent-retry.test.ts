import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Agent } from '../../src/agent/agent.js';
import type { AgentChannel } from '../../src/agent/channel.js';
import type { Heartbeat, Results } from '../../src/control/hosts/agent-hub.js';
import type { AgentCommand } from '../../src/control/hosts/agent-session.js';
import { GantryError } from '../../src/domain/errors.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { testAgent } from '../helpers/agents.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Waits for an outcome (never for a speed: a busy machine only makes this take longer). */
async function until(what: string, f: () => boolean): Promise<void> {
  for (const end = Date.now() + 60_000; !f(); await sleep(20)) if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
}
const limited = (): GantryError => new GantryError('RATE_LIMITED', 'too many', { retryAfter: 1 });

/**
 * A channel that hands out `list` commands and refuses messages as the test says, recording what was
 * sent and when: the agent must send nothing while it was told to wait, and lose nothing it carried.
 */
class ScriptedChannel implements AgentChannel {
  readonly sent: { kind: string; at: number; ids: string[] }[] = [];
  refuseResults = 0;
  refuseHeartbeats = 0;
  readonly hellos: number[] = [];
  refuseHellos = 0;
  refusal: () => GantryError = limited;
  #commands: AgentCommand[] = [];

  give(n: number, from = 0): void {
    for (let i = 0; i < n; i++) this.#commands.push({ id: `c${from + i}`, op: 'list' });
  }
  async hello() {
    this.hellos.push(Date.now());
    if (this.refuseHellos-- > 0) throw this.refusal();
    return { machineId: 1, session: 's', heartbeatIntervalMs: 60_000, pollWaitMs: 50 };
  }
  async poll(): Promise<AgentCommand[]> {
    await sleep(20);
    return this.#commands.splice(0);
  }
  async heartbeat(m: Heartbeat): Promise<void> {
    this.sent.push({ kind: 'heartbeat', at: Date.now(), ids: [] });
    if (this.refuseHeartbeats-- > 0) throw this.refusal();
    void m;
  }
  async results(m: Results): Promise<void> {
    this.sent.push({ kind: 'results', at: Date.now(), ids: m.results.map((r) => r.id) });
    if (this.refuseResults-- > 0) throw this.refusal();
  }
  delivered(): string[] {
    // The last attempt of each id is the delivered one (earlier attempts were refused).
    return [...new Set(this.sent.filter((s) => s.kind === 'results').flatMap((s) => s.ids))];
  }
}

const runtime = { name: 'process', list: async () => [], usage: async () => null, onExit: () => undefined, imageNotice: null } as unknown as Runtime;

function agent(channel: ScriptedChannel): Agent {
  return testAgent({ channel, runtime });
}

describe('the agent told to wait (RATE_LIMITED)', () => {
  it('sends nothing until Retry-After has passed, then everything it carried, once', async () => {
    const ch = new ScriptedChannel();
    ch.refuseHeartbeats = 1; // the heartbeat right after hello is refused: the wait starts there
    const a = agent(ch);
    await a.start();
    await until('the first heartbeat', () => ch.sent.length > 0);
    const refusedAt = ch.sent[0]?.at ?? 0;
    ch.give(3); // finished during the wait
    await until('the results', () => ch.delivered().length === 3);
    await until('the heartbeat again', () => ch.sent.filter((x) => x.kind === 'heartbeat').length === 2);
    await a.stop();
    const after = ch.sent.slice(1);
    assert.ok(
      after.every((x) => x.at - refusedAt >= 900),
      `nothing went out within the wait: ${JSON.stringify(ch.sent.map((x) => [x.kind, x.at - refusedAt]))}`,
    );
    assert.deepEqual(ch.delivered(), ['c0', 'c1', 'c2']);
    assert.equal(ch.sent.filter((x) => x.kind === 'results').length, 1, 'sent once, after the wait');
  });

  it('refused several times in a row, results arrive in order, each once, a second apart', async () => {
    const ch = new ScriptedChannel();
    ch.refuseResults = 2;
    const a = agent(ch);
    await a.start();
    ch.give(2);
    const results = () => ch.sent.filter((x) => x.kind === 'results');
    await until('the third try', () => results().length === 3);
    ch.give(1, 2);
    await until('the next result', () => results().length === 4);
    await a.stop();
    assert.deepEqual(
      results().map((r) => r.ids),
      [['c0', 'c1'], ['c0', 'c1'], ['c0', 'c1'], ['c2']],
    );
    for (let i = 1; i < 3; i++) assert.ok((results()[i]?.at ?? 0) - (results()[i - 1]?.at ?? 0) >= 900, 'each retry waits its Retry-After');
  });

  it("the control plane's database away (DATABASE_UNAVAILABLE): hellos a second apart, not backed off; a refused heartbeat keeps the session", async () => {
    const ch = new ScriptedChannel();
    ch.refusal = () => new GantryError('DATABASE_UNAVAILABLE', 'The database cannot be reached now; try again shortly.', { retryAfter: 1 });
    ch.refuseHellos = 3;
    ch.refuseHeartbeats = 1;
    const a = agent(ch);
    await a.start();
    await until('the heartbeat after the refused one', () => ch.sent.filter((x) => x.kind === 'heartbeat').length >= 1);
    ch.give(1);
    await until('a result', () => ch.delivered().length === 1);
    await a.stop();
    assert.equal(ch.hellos.length, 4, 'three refused, the fourth taken; no hello after the refused heartbeat');
    const gaps = ch.hellos.slice(1).map((t, i) => t - (ch.hellos[i] ?? 0));
    assert.ok(
      gaps.every((g) => g >= 900),
      `each hello a second after the last (backed off, they were 200, 400, 800 ms apart): ${JSON.stringify(gaps)}`,
    );
  });

  it('a long queue goes in parts of at most 200 results', async () => {
    const ch = new ScriptedChannel();
    ch.refuseResults = 1;
    const a = agent(ch);
    await a.start();
    ch.give(1);
    await until('the refusal', () => ch.sent.some((x) => x.kind === 'results'));
    ch.give(450, 1); // finished while the agent waits
    await until('every result', () => ch.delivered().length === 451);
    await a.stop();
    const sizes = ch.sent.filter((x) => x.kind === 'results').map((x) => x.ids.length);
    assert.ok(
      sizes.every((n) => n <= 200),
      JSON.stringify(sizes),
    );
  });
});
