import type { Writable, Readable } from 'node:stream';
import ssh2 from 'ssh2';
import type { CopyOrder, CopyReport } from '../control/hosts/copy-order.js';
import { asCopyPath, COPY_CANCELLED, showCopyPath, sourceParts, type CopyPath } from '../domain/instance/copy-path.js';
import type { ExecProcess } from '../runtime/runtime.js';

/** What the runner needs from the agent's SSH access: commands run inside an instance as its workload runs. */
export interface CopyHost {
  readonly copyRoot: 'home' | '/';
  spawn(instanceId: number, argv: readonly string[], tty: null): Promise<ExecProcess>;
}

/** The command a copy's SSH login runs on the destination host: this word, then the path as JSON. */
export const COPY_IN = 'gantry-copy-in';

/** Why a copy stopped when `cancel copy` ended it. */
const CANCELLED = 'was cancelled';

/** How long a destination that stopped reading its input may take to exit before it is ended, by default. */
const DESTINATION_GRACE_MS = 5_000;

/** Error output kept per side, for the reason a copy failed. */
const MAX_ERR = 2048;

const rootExpr = (root: 'home' | '/'): string => (root === 'home' ? '"$HOME"' : '""');

/** Inside the source instance: a tar of the path on stdout (paths as arguments, never in the script). */
export function packArgv(root: 'home' | '/', p: CopyPath): string[] {
  const { dir, name } = sourceParts(p);
  return ['/bin/sh', '-c', `r=${rootExpr(root)}; cd -- "$r/$1" && exec tar -cf - -- "$2"`, COPY_IN, dir, name];
}

/** Inside the destination instance: the tar from stdin unpacked into the folder (made if missing), owned by whoever unpacks. */
export function unpackArgv(root: 'home' | '/', p: CopyPath): string[] {
  return ['/bin/sh', '-c', `r=${rootExpr(root)}; mkdir -p -- "$r/$1" && cd -- "$r/$1" && exec tar -xf - --no-same-owner`, COPY_IN, p.segments.join('/')];
}

/**
 * Copies this agent runs at once, into one instance and in all: each holds two processes and their pipes for
 * up to copyTimeoutMs (an hour), and a tenant decides how long by what it copies; one more is refused.
 */
const COPIES_INTO_ONE = 4;
const COPIES_AT_ONCE = 32;

/** The destination side of a copy: a local process, or a command over SSH on another host. */
interface Sink {
  readonly stdin: Writable;
  readonly stderr: Readable;
  readonly done: Promise<{ readonly code: number | null; readonly signal: string | null }>;
  kill(): void;
}

/**
 * Copies between instances run by this agent (docs/decisions/011-instance-copy.md): a tar of the source path
 * made inside the source instance, piped into a tar that unpacks inside the destination, on this host or over
 * the destination host's SSH access. Each side runs in its own instance's sandbox, as its own uid, so neither
 * can reach past its instance's disk. Running copies are kept by destination, for `cancel copy`.
 */
export class CopyRunner {
  readonly #host: CopyHost;
  readonly #running = new Map<number, Set<(why: string) => void>>();

  readonly #destinationGraceMs: number;

  /** `destinationGraceMs`: how long a destination that stopped reading may take to exit before it is ended. */
  constructor(host: CopyHost, o: { readonly destinationGraceMs?: number } = {}) {
    this.#host = host;
    this.#destinationGraceMs = o.destinationGraceMs ?? DESTINATION_GRACE_MS;
  }

  async run(order: CopyOrder): Promise<CopyReport> {
    const srcPath = asCopyPath(order.src.path);
    const dstPath = asCopyPath(order.dst.path);
    if (srcPath === null || dstPath === null) throw new Error('the copy order has an invalid path');
    const into = this.#running.get(order.dst.instanceId)?.size ?? 0;
    if (into >= COPIES_INTO_ONE) throw new Error(`${into} copies into this instance run already (${COPIES_INTO_ONE} at most); try again once one ends`);
    let all = 0;
    for (const s of this.#running.values()) all += s.size;
    if (all >= COPIES_AT_ONCE) throw new Error(`this host runs ${all} copies already (${COPIES_AT_ONCE} at most); try again once one ends`);
    // Kept by destination from the start, before either side runs: a cancel or the agent's stop while a side
    // starts (an SSH login may take its 30 s) ends the copy as soon as it can, never after its whole bound.
    let stopped: string | null = null;
    let end: (() => void) | null = null;
    const stop = (why: string): void => {
      stopped ??= why;
      end?.();
    };
    // A side that failed to start once the copy was stopped: the stop says why.
    const orStop = (err: unknown): unknown => (stopped !== null ? stoppedError(stopped) : err);
    const set = this.#running.get(order.dst.instanceId) ?? new Set();
    set.add(stop);
    this.#running.set(order.dst.instanceId, set);
    /**
     * A side's start, given up once the copy is stopped: a start the runtime never ends (an engine that took
     * the exec and went silent) would hold the copy past its bound. A process it brings after that is ended.
     */
    const startUnlessStopped = (p: Promise<ExecProcess>): Promise<ExecProcess> =>
      new Promise<ExecProcess>((resolve, reject) => {
        let given = false;
        end = (): void => {
          given = true;
          reject(stoppedError(stopped as string));
        };
        if (stopped !== null) end();
        p.then((x) => (given ? x.kill() : resolve(x)), reject);
      });
    const timer = setTimeout(() => stop(`did not finish within ${order.timeoutMs} ms`), order.timeoutMs);
    let lingering: NodeJS.Timeout | undefined;
    try {
      // The destination first: it waits for its input, while a source that ends before its output is read would
      // lose it (Node drops the unread output of a child that exited).
      const sink: Sink = await (
        order.via === null
          ? startUnlessStopped(this.#host.spawn(order.dst.instanceId, unpackArgv(this.#host.copyRoot, dstPath), null))
          : remoteSink(order.via, dstPath, order.timeoutMs, (abort) => (end = abort))
      ).catch((err: unknown) => {
        throw orStop(err);
      });
      end = () => sink.kill();
      const dstErr = collect(sink.stderr);
      let src: ExecProcess;
      try {
        if (stopped !== null) throw stoppedError(stopped);
        src = await startUnlessStopped(this.#host.spawn(order.src.instanceId, packArgv(this.#host.copyRoot, srcPath), null));
      } catch (err) {
        sink.kill();
        throw orStop(err);
      }
      src.stdin.end();
      const srcErr = collect(src.stderr);
      // The source's output must flow somewhere once the destination is gone: a child whose stdout is held
      // back by a dead destination's backpressure never reports its end.
      const discard = (): void => {
        src.stdout.unpipe(sink.stdin);
        src.stdout.resume();
      };
      end = (): void => {
        discard();
        src.kill();
        sink.kill();
      };
      let bytes = 0;
      src.stdout.on('data', (d: Buffer) => (bytes += d.length));
      // A destination that ended (killed, cancelled, its connection gone) reads no more: the source ends too, and
      // how it ended then says nothing (a tar that unpacked a whole archive may end before its source is seen gone).
      // A destination that ends after the source's output did was not cut short: the source's own end still counts.
      // Its exit or the failed write into its closed input, whichever is seen first: the destination's exit code
      // then says whether it failed.
      let srcEnded = false;
      let cut = false;
      const cutShort = (): void => {
        if (srcEnded) return;
        cut = true;
        discard();
        src.kill();
      };
      src.stdout.pipe(sink.stdin);
      // A destination that closed its input yet goes on running is given a moment to end, then ended.
      sink.stdin.on('error', () => {
        cutShort();
        lingering ??= setTimeout(() => sink.kill(), this.#destinationGraceMs);
      });
      src.stdout.once('end', () => (srcEnded = true));
      void src.done.then(() => (srcEnded = true));
      void sink.done.then(cutShort);
      // Stopped while the source started: ended now that its output flows (ended before the pipe, it would be held back).
      if (stopped !== null) end();
      const [a, b] = await Promise.all([src.done, sink.done]);
      const why = stopped as string | null; // set by stop(), from a timer or a cancel
      // Cancelled by the destination's host, which says so on a line of its own once the unpacking it ended has
      // exited (not a line tar could print: its own start with "tar:").
      if (order.via !== null && dstErr().split(/\r?\n/).includes(`gantry: ${COPY_CANCELLED}`)) throw new Error(COPY_CANCELLED);
      if (why !== null) throw stoppedError(why);
      // Cut short by a destination that ended first, the source's end says nothing (a write into a closed pipe)
      // unless it failed on its own: a path that is not there ends it with an error and an empty archive, which
      // the destination may finish unpacking before the source's end is seen.
      const failedItself = srcErr().trim() !== '' && !/broken pipe|EPIPE/i.test(srcErr());
      if (a.code !== 0 && (!cut || failedItself))
        throw new Error(`reading ${showCopyPath(srcPath)} failed: ${srcErr().trim() || `exit ${a.code ?? a.signal}`}`);
      if (b.code !== 0) throw new Error(`writing ${showCopyPath(dstPath)} failed: ${dstErr().trim() || `exit ${b.code ?? b.signal}`}`);
      return { bytes };
    } finally {
      clearTimeout(timer);
      clearTimeout(lingering);
      set.delete(stop);
      if (set.size === 0 && this.#running.get(order.dst.instanceId) === set) this.#running.delete(order.dst.instanceId);
    }
  }

  /** End the copies this agent runs into an instance; how many there were. */
  cancel(dstInstanceId: number): number {
    return this.#stop(dstInstanceId, CANCELLED);
  }

  /** The agent stops: every copy ends (not as cancelled: nobody asked). */
  close(): void {
    for (const id of [...this.#running.keys()]) this.#stop(id, 'ended as its host agent stopped');
  }

  #stop(dstInstanceId: number, why: string): number {
    const set = this.#running.get(dstInstanceId);
    for (const stop of set ?? []) stop(why);
    return set?.size ?? 0;
  }
}

/** Why a copy that `stop` ended failed: cancelled (the error `cancel copy` callers look for), or ended for `why`. */
const stoppedError = (why: string): Error => new Error(why === CANCELLED ? COPY_CANCELLED : `the copy ${why}`);

function collect(r: Readable): () => string {
  let text = '';
  r.on('data', (d: Buffer) => {
    if (text.length < MAX_ERR) text += d.toString('utf8').slice(0, MAX_ERR - text.length);
  });
  return () => text;
}

/**
 * A login to the destination instance on another host with the one-time key it granted, running the copy-in
 * command. `aborted` gets what cuts the login short (a copy stopped meanwhile need not wait out its 30 s).
 */
function remoteSink(via: NonNullable<CopyOrder['via']>, dst: CopyPath, timeoutMs: number, aborted: (abort: () => void) => void): Promise<Sink> {
  const expected = Buffer.from(via.hostKey, 'base64');
  const client = new ssh2.Client();
  return new Promise<Sink>((resolve, reject) => {
    aborted(() => {
      client.on('error', () => undefined); // what the cut connection says next is no news
      client.destroy();
      reject(new Error('the login to the destination was cut short'));
    });
    client.once('error', (err) => reject(new Error(`reaching the destination at ${via.host}:${via.port} failed: ${err.message}`)));
    client.once('ready', () => {
      client.exec(`${COPY_IN} ${JSON.stringify(dst)}`, (err, channel) => {
        if (err) {
          client.end();
          return reject(new Error(`the destination refused the copy: ${err.message}`));
        }
        let exit: { code: number | null; signal: string | null } = { code: null, signal: 'connection closed' };
        channel.on('exit', (code: number | null, signal?: string) => (exit = { code: signal === undefined ? code : null, signal: signal ?? null }));
        channel.resume(); // the destination's tar says nothing on stdout; what it might say must not stall the channel
        const done = new Promise<{ code: number | null; signal: string | null }>((res) =>
          channel.once('close', () => {
            client.end();
            res(exit);
          }),
        );
        resolve({ stdin: channel, stderr: channel.stderr, done, kill: () => client.end() });
      });
    });
    client.connect({
      host: via.host,
      port: via.port,
      username: 'root',
      privateKey: via.privateKey,
      hostVerifier: (key: Buffer) => key.equals(expected),
      readyTimeout: Math.min(timeoutMs, 30_000),
    });
  });
}
