import { join } from 'node:path';
import { callApi, pct, procSample, spawnGantry, textTable } from './util.js';

/**
 * Heartbeat handling for 1,000 simulated agents: a real `gantry server` process, 1,000 hellos, 1,000
 * parked long polls, and one heartbeat per agent per second. The server's CPU and memory come from
 * /proc, side by side with the same server idle for the same time (the baseline).
 */
export interface ResourceRow {
  readonly bench: string;
  readonly variant: string;
  readonly seconds: number;
  readonly cpuPercent: number;
  readonly rssMb: number;
  readonly requestsPerS: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

const AGENTS = 1000;
const WINDOW_S = 5;

/** What a simulated host reports at hello: a small GPU box, `over` changing any field. */
export function simMachine(hostname: string, over: Record<string, unknown>): Record<string, unknown> {
  return {
    hostname,
    gpuName: 'T4',
    numGpus: 4,
    gpuRamMb: 16000,
    gpuDeclared: true,
    computeCap: null,
    cpuName: 'sim',
    cpuArch: 'amd64',
    cpuCores: 16,
    cpuRamMb: 64000,
    diskSpaceGb: 1000,
    driverVersion: null,
    cudaMaxGood: null,
    publicIp: '127.0.0.1',
    inetUpMbps: 1000,
    inetDownMbps: 1000,
    osVersion: 'sim',
    portRangeStart: 40000,
    portRangeEnd: 40999,
    runtime: 'process',
    ...over,
  };
}

/** A resource row from two /proc samples over `seconds` and the latencies of the requests served meanwhile (none: an idle baseline). */
export function resourceRow(
  bench: string,
  variant: string,
  w: { seconds: number; before: { cpuS: number }; after: { cpuS: number; rssMb: number } },
  latencies: readonly number[],
): ResourceRow {
  return {
    bench,
    variant,
    seconds: w.seconds,
    cpuPercent: ((w.after.cpuS - w.before.cpuS) / w.seconds) * 100,
    rssMb: w.after.rssMb,
    requestsPerS: latencies.length / w.seconds,
    p50Ms: latencies.length > 0 ? pct(latencies, 50) : null,
    p99Ms: latencies.length > 0 ? pct(latencies, 99) : null,
  };
}

export async function heartbeatBench(dir: string): Promise<ResourceRow[]> {
  const port = 17000 + Math.floor(Math.random() * 2000);
  const url = `http://127.0.0.1:${port}`;
  const adminKey = 'gnt_bench_admin_key';
  const server = await spawnGantry(['server', '--port', String(port), '--data-dir', join(dir, 'hb')], {
    GANTRY_ADMIN_KEY: adminKey,
    GANTRY_AGENT_POLL_WAIT_MS: '20000',
    GANTRY_HEARTBEAT_INTERVAL_MS: '1000',
    // The bench's own server: 1,000 agents register and poll from one address, past the default limits.
    GANTRY_RATE_LIMIT: '0',
    GANTRY_MAX_CONNECTIONS_PER_ADDRESS: '0',
  });
  try {
    const pid = server.pid as number;
    const post = (path: string, body: unknown, key: string): Promise<any> => callApi(url, key, 'POST', path, body);
    const agents: { token: string; machineId: number; session: string; seq: number }[] = [];
    for (let i = 0; i < AGENTS; i++) {
      const { token } = (await post('/api/v0/host_tokens/', { name: `sim-${i}` }, adminKey)) as { token: string };
      const machine = simMachine(`sim-${i}`, {});
      const w = (await post('/agent/v1/hello', { hostKey: `sim-host-${i}`, imageNotice: null, machine }, token)) as { machineId: number; session: string };
      agents.push({ token, machineId: w.machineId, session: w.session, seq: 0 });
    }
    // Every agent parks a long poll, as real agents do between commands.
    const polls = agents.map((a) => post('/agent/v1/poll', { machineId: a.machineId, session: a.session, waitMs: 20_000 }, a.token).catch(() => null));
    await new Promise((r) => setTimeout(r, 500));

    const idle0 = await procSample(pid);
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, WINDOW_S * 1000));
    const idle1 = await procSample(pid);
    const idleS = (Date.now() - t0) / 1000;

    const lat: number[] = [];
    const load0 = await procSample(pid);
    const t1 = Date.now();
    const end = t1 + WINDOW_S * 1000;
    await Promise.all(
      agents.map(async (a, i) => {
        await new Promise((r) => setTimeout(r, (i / AGENTS) * 1000)); // spread over the second
        while (Date.now() < end) {
          const s = Date.now();
          const body = { machineId: a.machineId, session: a.session, seq: ++a.seq, gpuUtils: [10, 20, 30, 40], usage: [], exited: [], progress: [] };
          await post('/agent/v1/heartbeat', body, a.token);
          lat.push(Date.now() - s);
          await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - s))));
        }
      }),
    );
    const load1 = await procSample(pid);
    const loadS = (Date.now() - t1) / 1000;
    server.kill('SIGTERM');
    await Promise.race([Promise.all(polls), new Promise((r) => setTimeout(r, 3000))]);
    const name = `agent heartbeats (${AGENTS} agents, 1/s each, ${AGENTS} parked polls)`;
    return [
      resourceRow(name, 'server idle, agents connected (baseline)', { seconds: idleS, before: idle0, after: idle1 }, []),
      resourceRow(name, 'server taking heartbeats', { seconds: loadS, before: load0, after: load1 }, lat),
    ];
  } finally {
    server.kill('SIGKILL');
  }
}

export function printResources(rows: ResourceRow[]): void {
  const head = ['benchmark', 'variant', 's', 'CPU % of a core', 'RSS MB', 'req/s', 'p50 ms', 'p99 ms'];
  const f = (x: number | null, d = 1): string => (x === null ? '-' : x.toFixed(d));
  const cells = rows.map((r) => [r.bench, r.variant, f(r.seconds), f(r.cpuPercent), f(r.rssMb), f(r.requestsPerS, 0), f(r.p50Ms), f(r.p99Ms)]);
  process.stdout.write(textTable(head, cells));
}
