import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dispatch } from '../../src/agent/dispatch.js';
import { DockerRuntime, engineFor } from '../../src/runtime/docker/docker-runtime.js';
import { demuxLogs, demuxStampedLogs } from '../../src/runtime/docker/engine-streams.js';
import { labelledAs } from '../../src/runtime/docker/labelled.js';
import { lineCost, MAX_LOG_BYTES, newestText, newestWithin, selectLines } from '../../src/runtime/log-lines.js';
import type { WorkloadSpec } from '../../src/runtime/runtime.js';
import { dockerSkip, testDockerHost, testImage } from '../helpers/docker.js';
import { liveMemory } from '../helpers/live-memory.js';

const MiB = 1024 * 1024;

const live = liveMemory;

/** The most memory this process kept above what it kept before, sampled while `f` runs. */
async function peakDuring<T>(f: () => Promise<T>): Promise<{ value: T; peak: number }> {
  const base = live();
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, live() - base)), 5);
  try {
    const value = await f();
    return { value, peak: Math.max(peak, live() - base) };
  } finally {
    clearInterval(sampler);
  }
}

/** Runs `onstart` as instance `id` and waits for it to end. */
async function ran(rt: DockerRuntime, id: number, onstart: string): Promise<void> {
  const spec: WorkloadSpec = { instanceId: id, image: testImage(), env: {}, onstart, command: [], runtype: 'args', gpuIndices: [], ports: [], sshKeys: [] };
  await rt.start(spec);
  const end = Date.now() + 120_000;
  while ((await rt.inspect(id)).state !== 'exited') {
    if (Date.now() > end) throw new Error('the workload did not end in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** busybox sh: `$s` doubled `n` times (2^n bytes of x). */
const doubled = (n: number): string => `s=x; i=0; while [ $i -lt ${n} ]; do s=$s$s; i=$((i+1)); done`;

/**
 * Workloads that printed a tail of 32 MiB (8,000 lines of 4 KiB) and one line of 48 MiB, on a real engine
 * (the Podman API service): the docker runtime's log reads pass them through without keeping them, and give
 * the newest of them within the agent's bound, as before.
 */
describe('log reads of containers that printed a lot (docker runtime on Podman)', { skip: dockerSkip(), timeout: 300_000 }, () => {
  let root: string;
  let rt: DockerRuntime;
  const LONG_LINES = 1;
  const HUGE_LINE = 2;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'gantry-loglong-'));
    rt = await DockerRuntime.open({ root, dockerHost: testDockerHost(), killWaitMs: 5000, pollMs: 50, nvidiaGpus: false });
    const after = 'echo after one; echo after two >&2';
    await ran(rt, LONG_LINES, `${doubled(12)}; i=0; while [ $i -lt 8000 ]; do echo "$i $s"; i=$((i+1)); done; ${after}`);
    await ran(rt, HUGE_LINE, `${doubled(24)}; printf %s "$s$s$s"; echo; ${after}`);
  });
  after(async () => {
    for (const id of [LONG_LINES, HUGE_LINE]) await rt?.destroy(id, { graceMs: 200 }).catch(() => undefined);
    await rt?.close();
    await rm(root, { recursive: true, force: true });
  });

  /**
   * What the engine answers, read whole (as the runtime did before) and cut as the agent does: the reference.
   * Podman cuts long lines into pieces of its own, and its tail counts those pieces, so it is what the engine
   * sends that the runtime's answer is compared with.
   */
  const whole = async (id: number, q: Record<string, unknown>): Promise<Buffer> => {
    const runtimeId = (await readFile(join(root, 'runtime-id'), 'utf8')).trim();
    const [c] = await labelledAs(engineFor(testDockerHost()), runtimeId, id);
    assert.ok(c !== undefined);
    return engineFor(testDockerHost())
      .getContainer(c.Id)
      .logs({ stdout: true, stderr: true, follow: false, ...q });
  };
  /**
   * The workload's last stdout line and its one stderr line end the logs. The engine reads the two pipes on
   * its own, so on a busy machine the stderr line may come a few stdout lines early: it is looked for near the end.
   */
  const lastTwo = (texts: readonly string[]): void => {
    const at = texts.lastIndexOf('after two');
    assert.ok(at >= 0 && at >= texts.length - 40, `'after two' near the end (at ${at} of ${texts.length})`);
    assert.equal(texts.filter((_, i) => i !== at).at(-1), 'after one');
  };

  it('logs: a tail of long lines comes back as its newest whole lines, not kept whole on the way', async () => {
    const { value, peak } = await peakDuring(() => rt.logs(LONG_LINES, 10_000));
    assert.ok(peak < 16 * MiB, `the reader kept ${(peak / MiB).toFixed(1)} MiB`);
    assert.ok(Buffer.byteLength(value) <= MAX_LOG_BYTES);
    assert.equal(value, newestText(demuxLogs(await whole(LONG_LINES, { tail: 10_000 })), MAX_LOG_BYTES));
    lastTwo(value.split('\n').slice(0, -1));
    // Through the agent's command, the same.
    assert.equal(await dispatch(rt, { id: 'c', op: 'logs', instanceId: LONG_LINES, tail: 10_000 } as never), value);
  });

  it('logLines: the same, line by line within the bound', async () => {
    const q = { tail: 10_000 };
    const { value, peak } = await peakDuring(() => rt.logLines(LONG_LINES, q));
    assert.ok(peak < 16 * MiB, `the reader kept ${(peak / MiB).toFixed(1)} MiB`);
    assert.ok(value.reduce((n, l) => n + lineCost(l), 0) <= MAX_LOG_BYTES);
    assert.deepEqual(value, newestWithin(selectLines(demuxStampedLogs(await whole(LONG_LINES, { timestamps: true, ...q })), q), MAX_LOG_BYTES));
    lastTwo(value.map((l) => l.text));
  });

  it('logLines with an upper bound (the engine sends all, no tail): a line of 48 MiB passes through, not kept', async () => {
    const q = { tail: 100, until: Date.now() + 60_000 };
    const { value, peak } = await peakDuring(() => rt.logLines(HUGE_LINE, q));
    assert.ok(peak < 16 * MiB, `the reader kept ${(peak / MiB).toFixed(1)} MiB`);
    assert.ok(value.reduce((n, l) => n + lineCost(l), 0) <= MAX_LOG_BYTES);
    const sent = await whole(HUGE_LINE, { timestamps: true, until: Math.ceil(q.until / 1000) + 1 });
    assert.ok(sent.length > 48 * MiB);
    assert.deepEqual(value, newestWithin(selectLines(demuxStampedLogs(sent), q), MAX_LOG_BYTES));
    // Podman hands the long line back in pieces, each a line of its own (the last one empty): those kept are the newest.
    lastTwo(value.filter((l) => !/^x*$/.test(l.text)).map((l) => l.text));
  });
});
