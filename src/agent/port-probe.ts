import { createServer } from 'node:net';

/** Binds tried at once: enough to sweep a 1,000-port range quickly, few enough to stay far from fd limits. */
const PARALLEL = 64;

/** Whether a workload could listen on `port` now (all addresses, as `python -m http.server $PORT` does). */
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ port }, () => s.close(() => resolve(true)));
  });
}

/**
 * Ports of the host's range that something holds: the control plane allocates ports from its own records,
 * so a port another program listens on would make the workload fail to bind (process runtime) or to start
 * (docker). The agent tries each port, because only the host can tell; ports its own workloads hold show up
 * too, which is harmless (they are allocated anyway).
 */
export async function probeBusyPorts(first: number, last: number): Promise<number[]> {
  const busy: number[] = [];
  for (let p = first; p <= last; p += PARALLEL) {
    const batch = Array.from({ length: Math.min(PARALLEL, last - p + 1) }, (_, i) => p + i);
    const free = await Promise.all(batch.map(canBind));
    batch.forEach((port, i) => {
      if (free[i] !== true) busy.push(port);
    });
  }
  return busy;
}
