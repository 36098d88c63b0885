import { readdir, readFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import type { ExecProcess, ExecRequest } from '../runtime.js';
import { within } from '../within.js';

/** Reads of the exec's state once its stream ended, until the engine says it stopped running. */
const EXIT_READS = 20;
const EXIT_READ_PAUSE_MS = 50;

/**
 * A command beside the workload, in its container (`Runtime.exec`): POST /containers/{id}/exec, then
 * /exec/{id}/start with a hijacked connection that carries stdin one way and the output the other (a
 * multiplexed stream without a terminal, raw bytes with one); the exit code is read from /exec/{id}/json.
 * The command runs with the container's own environment, user and working directory, as the workload does.
 */
export async function containerExec(docker: Docker, container: string, r: ExecRequest, answerMs = 60_000): Promise<ExecProcess> {
  const tty = r.tty !== null;
  const ex = await docker.getContainer(container).exec({
    Cmd: [...r.argv],
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: tty,
    ...(r.tty !== null && { Env: [`TERM=${r.tty.term}`] }),
  });
  const stream = await ex.start({ hijack: true, stdin: true, Tty: tty });
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  // Listeners go on at once: a short command's stream may end before the next await returns.
  if (tty) stream.pipe(stdout, { end: false });
  else docker.modem.demuxStream(stream, stdout, stderr);
  const ended = new Promise<void>((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', () => resolve());
  });
  stream.on('error', () => undefined); // a reset connection ends the command; `done` says how
  const done = ended.then(async () => {
    stdout.end();
    stderr.end();
    return { code: await exitCode(ex, answerMs), signal: null };
  });
  // The engine has no call that ends an exec: its process (a host pid) and what it started are signalled here.
  const pid = answered(ex.inspect(), answerMs).then(async (i) => (i === null ? null : { pid: i.Pid, start: await startTicks(i.Pid) }));
  const proc: ExecProcess = {
    stdin: stream,
    stdout,
    stderr,
    done,
    kill: () => {
      // The session ends now, not once the engine says which process to kill (it may never say).
      stream.destroy();
      void pid.then(async (p) => {
        if (p !== null && p.start !== null && (await startTicks(p.pid)) === p.start) await killTree(p.pid);
      });
    },
    resize: (cols, rows) => {
      // Podman answers 201, which the client library counts as a failure; a size that did not apply is harmless.
      ex.resize({ w: cols, h: rows }).catch(() => undefined);
    },
  };
  if (r.tty !== null) proc.resize?.(r.tty.cols, r.tty.rows);
  return proc;
}

async function exitCode(ex: Docker.Exec, answerMs: number): Promise<number | null> {
  for (let i = 0; i < EXIT_READS; i++) {
    const info = await answered(ex.inspect(), answerMs);
    if (info === null) return null;
    if (!info.Running) return info.ExitCode ?? null;
    await new Promise((r) => setTimeout(r, EXIT_READ_PAUSE_MS));
  }
  return null;
}

/** The engine's answer, or null when it failed or did not come within `ms` (it goes on; nothing waits for it). */
const answered = <T>(p: Promise<T>, ms: number): Promise<T | null> =>
  within(
    p.catch(() => null),
    ms,
    null,
  );

/** Field 22 of /proc/PID/stat: with the pid it names one process, not a later one that reused the number. */
async function startTicks(pid: number): Promise<string | null> {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  return stat === null ? null : (stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null);
}

/** SIGKILL to a process and all its descendants (children first found through /proc, then all signalled). */
async function killTree(root: number): Promise<void> {
  const parents = new Map<number, number[]>();
  for (const name of await readdir('/proc').catch(() => [])) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => null);
    if (stat === null) continue;
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    parents.set(ppid, [...(parents.get(ppid) ?? []), Number(name)]);
  }
  const all: number[] = [];
  const walk = (pid: number): void => {
    all.push(pid);
    for (const c of parents.get(pid) ?? []) walk(c);
  };
  walk(root);
  for (const pid of all) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
