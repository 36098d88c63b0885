import { chmod, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import ssh2 from 'ssh2';
import type { ExecProcess, Runtime, WorkloadSpec } from '../runtime/runtime.js';
import { readOrCreate } from '../runtime/files.js';
import type { CopyGrant, CopyOrder, CopyReport } from '../control/hosts/copy-order.js';
import { asCopyPath } from '../domain/instance/copy-path.js';
import { CopyRunner, unpackArgv } from './copy-runner.js';
import { ed25519Pair } from './ssh-keygen.js';
import { serveConnection, type SessionHost, type SessionShell } from './ssh-session.js';
import { SshListener } from './ssh-listener.js';
import { within } from './bounds.js';
import { GantryError } from '../domain/errors.js';

export interface SshAccessOptions {
  readonly runtime: Runtime;
  /** The host's data dir: the host key and one record per instance live in `ssh/` (0700, files 0600). */
  readonly dataDir: string;
  readonly bindAddress: string;
  /** Run inside the instance for the `sftp` subsystem. */
  readonly sftpServer: string;
  /** Where `copy`'s rsync module points: the instance's home (its disk on the process runtime) or `/` (containers). */
  readonly copyRoot: 'home' | '/';
  /** Whose shell and sftp-server sessions run: the host's bash (process runtime) or the container image's. */
  readonly shell: SessionShell;
  /** A connection not logged in within this is cut (`sshLoginGraceMs`). */
  readonly loginGraceMs: number;
  /** Keepalives to logged-in peers, and how long a peer has to close after this side ended (`sshKeepaliveMs`). */
  readonly keepaliveMs: number;
  /** At start, a look at an instance not answered within this (`agentReadTimeoutMs`) counts as running; default 60 s. */
  readonly readTimeoutMs?: number;
  readonly log: Logger;
}

/** What the agent keeps per instance to serve SSH after it restarts (the workload outlives it). */
interface AccessRecord {
  readonly port: number;
  keys: readonly string[];
  /** The workload's environment, so a session sees what the workload sees. */
  readonly env: Readonly<Record<string, string>>;
}

/**
 * SSH access to instances, served by the agent (docs/decisions/010-ssh-access.md): one listener per instance
 * on its SSH port, public-key auth against the instance's keys (the account's, and those attached with
 * `attach ssh`), and every session run by the runtime exactly as the workload runs (`Runtime.exec`).
 */
export class SshAccess implements SessionHost {
  readonly #o: SshAccessOptions;
  readonly #hostKey: string;
  readonly #records = new Map<number, AccessRecord>();
  readonly #servers = new Map<number, SshListener>();
  /** Closed: a start still under way (its record being saved, its address looked up) listens no more. */
  #closed = false;
  readonly #live = new Map<number, Set<ExecProcess>>();
  /** Copies this agent runs (it holds their source), and one-time keys for copies from other hosts into its instances. */
  readonly #copies = new CopyRunner(this);
  readonly #grants = new Map<number, { key: string; until: number }[]>();
  /** Copies from other hosts unpacking into an instance now (for `cancel copy`). */
  readonly #copyingIn = new Map<number, Set<ExecProcess>>();
  readonly #cancelledIn = new WeakSet<ExecProcess>();

  private constructor(o: SshAccessOptions, hostKey: string) {
    this.#o = o;
    this.#hostKey = hostKey;
  }

  get sftpServer(): string {
    return this.#o.sftpServer;
  }
  get copyRoot(): 'home' | '/' {
    return this.#o.copyRoot;
  }
  get shell(): SessionShell {
    return this.#o.shell;
  }

  /** Load the host key (made once) and the records, and listen again for the instances still running. */
  static async open(o: SshAccessOptions): Promise<SshAccess> {
    const dir = join(o.dataDir, 'ssh');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    const keyFile = join(dir, 'host_ed25519_key');
    let hostKey = await readOrCreate(keyFile, () => ed25519Pair().private.trim());
    // A key an older version made malformed (ssh2#1513) never served a login: replace it.
    if (ssh2.utils.parseKey(hostKey) instanceof Error) {
      hostKey = ed25519Pair().private.trim();
      await writeFile(keyFile, hostKey + '\n', { mode: 0o600 });
    }
    const a = new SshAccess(o, hostKey + '\n');
    for (const name of await readdir(dir)) {
      const m = /^(\d+)\.json$/.exec(name);
      if (m === null) continue;
      const rec = parseRecord(await readFile(join(dir, name), 'utf8').catch(() => ''));
      if (rec === null) continue;
      const id = Number(m[1]);
      a.#records.set(id, rec);
      // Bounded: an engine that does not answer must not hold the agent's start. Unanswered, the instance may
      // run: it listens, and a login looks at the instance again (spawn).
      const look = o.runtime.inspect(id).then(
        (obs) => obs.state === 'running',
        () => false,
      );
      const running = await within(look, o.readTimeoutMs ?? 60_000, true);
      if (running) await a.#listen(id).catch((err: unknown) => o.log.warn({ instanceId: id, err: String(err) }, 'SSH access not restored'));
    }
    return a;
  }

  /**
   * Before a start: keep the port, keys and environment, and listen, so the workload starts only once its SSH
   * port is this agent's. While the instance was stopped any program on the host could take the port (a
   * tenant's workload, anything else); serving the instance anyway told its users to log in to whatever holds
   * it. That fails the start before anything runs (SSH_PORT_TAKEN): the control plane gives the instance another
   * port and starts it again. Any other failure to listen (an address not on this host) costs the instance its
   * SSH access, not its start, as it would every instance of the host. Answers whether this opened a listener.
   */
  async starting(spec: WorkloadSpec): Promise<boolean> {
    const id = spec.instanceId;
    // Without a port (none could be given) the record of an earlier one goes: kept, a restart of this agent
    // would listen there again, on a port since given to another instance maybe.
    if (spec.sshPort === undefined) return false; // a control plane of before SSH ports: says nothing of them
    if (spec.sshPort === null) {
      if (this.#records.has(id)) await this.#forget(id);
      return false;
    }
    const rec: AccessRecord = { port: spec.sshPort, keys: spec.sshKeys, env: spec.env };
    const old = this.#records.get(id);
    this.#records.set(id, rec);
    await this.#save(id);
    if (old !== undefined && old.port !== rec.port) await this.#unlisten(id);
    const had = this.#servers.has(id);
    try {
      await this.#listen(id);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        await this.#forget(id); // the port is given up: not one to listen on again at this agent's next start
        throw new GantryError('SSH_PORT_TAKEN', `SSH port ${rec.port} is held by another program on this host`, { port: rec.port });
      }
      this.#o.log.warn({ instanceId: id, port: rec.port, err: String(err) }, 'SSH access could not listen');
    }
    return !had && this.#servers.has(id);
  }

  /** Keys attached or detached: the next authentication sees them (open sessions stay). */
  async keysChanged(instanceId: number, keys: readonly string[]): Promise<void> {
    const rec = this.#records.get(instanceId);
    if (rec === undefined) return;
    rec.keys = keys;
    await this.#save(instanceId);
  }

  /** The workload stopped: no new sessions, and the open ones end with it. */
  async stopped(instanceId: number): Promise<void> {
    await this.#unlisten(instanceId);
  }

  async destroyed(instanceId: number): Promise<void> {
    this.#grants.delete(instanceId);
    await this.#forget(instanceId);
  }

  /** No SSH access for the instance, now or after this agent's restart. */
  async #forget(instanceId: number): Promise<void> {
    await this.#unlisten(instanceId);
    this.#records.delete(instanceId);
    await rm(this.#file(instanceId), { force: true });
  }

  /** One command inside the instance, its output (stdout then stderr) bounded to `maxBytes`; ended after `timeoutMs`. */
  async run(instanceId: number, argv: readonly string[], o: { timeoutMs: number; maxBytes: number }): Promise<{ code: number | null; output: string }> {
    const began = Date.now();
    // The bound counts from here, not from the spawn: an engine slow to start the exec (or never) held it for good.
    const spawning = this.spawn(instanceId, argv, null);
    const p = await within(spawning, o.timeoutMs, null);
    if (p === null) {
      void spawning.then(
        (late) => late.kill(),
        () => undefined,
      );
      throw new Error(`the command did not start within ${o.timeoutMs / 1000}s`);
    }
    p.stdin.end();
    const chunks: Buffer[] = [];
    let size = 0;
    const take = (d: Buffer): void => {
      if (size >= o.maxBytes) return;
      chunks.push(d.subarray(0, o.maxBytes - size));
      size += d.length;
    };
    p.stdout.on('data', take);
    p.stderr.on('data', take);
    const timer = setTimeout(() => p.kill(), Math.max(0, o.timeoutMs - (Date.now() - began)));
    try {
      const { code } = await p.done;
      return { code, output: Buffer.concat(chunks).toString('utf8') };
    } finally {
      clearTimeout(timer);
    }
  }

  // ── Copies between instances (copy-runner.ts, docs/decisions/011-instance-copy.md) ──

  copy(order: CopyOrder): Promise<CopyReport> {
    return this.#copies.run(order);
  }

  /** A fresh key this host's SSH access accepts once, within `ttlMs`, to unpack a copy into the instance. */
  grantCopy(instanceId: number, ttlMs: number): CopyGrant {
    if (!this.#servers.has(instanceId)) throw new Error(`instance ${instanceId} has no SSH access on this host now`);
    const pair = ed25519Pair();
    const now = Date.now();
    const live = (this.#grants.get(instanceId) ?? []).filter((g) => g.until > now);
    this.#grants.set(instanceId, [...live, { key: pair.public, until: now + ttlMs }]);
    const host = ssh2.utils.parseKey(this.#hostKey);
    if (host instanceof Error) throw host;
    return { privateKey: pair.private, hostKey: host.getPublicSSH().toString('base64') };
  }

  /** End every copy into the instance: those this agent runs and those another host pushes in. */
  cancelCopies(instanceId: number): number {
    const pushed = this.#copyingIn.get(instanceId) ?? new Set();
    for (const p of pushed) {
      this.#cancelledIn.add(p);
      p.kill();
    }
    return this.#copies.cancel(instanceId) + pushed.size;
  }

  // ── SessionHost: what a connection needs ──

  grantsOf(instanceId: number): readonly string[] {
    const now = Date.now();
    return (this.#grants.get(instanceId) ?? []).filter((g) => g.until > now).map((g) => g.key);
  }

  useGrant(instanceId: number, key: string): void {
    const left = (this.#grants.get(instanceId) ?? []).filter((g) => g.key !== key && g.until > Date.now());
    if (left.length > 0) this.#grants.set(instanceId, left);
    else this.#grants.delete(instanceId);
  }

  /** The one command a granted login may run: unpack a tar into the path (checked again here). */
  async spawnCopyIn(instanceId: number, pathJson: string): Promise<ExecProcess> {
    let path: ReturnType<typeof asCopyPath> = null;
    try {
      path = asCopyPath(JSON.parse(pathJson));
    } catch {
      path = null;
    }
    if (path === null) throw new Error('a copy login may only unpack into a valid path');
    const p = await this.spawn(instanceId, unpackArgv(this.#o.copyRoot, path), null);
    const set = this.#copyingIn.get(instanceId) ?? new Set<ExecProcess>();
    set.add(p);
    this.#copyingIn.set(instanceId, set);
    void p.done.finally(() => set.delete(p));
    return p;
  }

  copyCancelled(p: ExecProcess): boolean {
    return this.#cancelledIn.has(p);
  }

  keysOf(instanceId: number): readonly string[] {
    return this.#records.get(instanceId)?.keys ?? [];
  }

  async spawn(instanceId: number, argv: readonly string[], tty: { term: string; cols: number; rows: number } | null): Promise<ExecProcess> {
    const rec = this.#records.get(instanceId);
    const exec = this.#o.runtime.exec?.bind(this.#o.runtime);
    if (rec === undefined || exec === undefined) throw new Error(`instance ${instanceId} has no SSH access on this host`);
    const obs = await this.#o.runtime.inspect(instanceId);
    if (obs.state !== 'running') throw new Error(`instance ${instanceId} is not running`);
    const p = await exec(instanceId, { argv, env: rec.env, tty });
    const set = this.#live.get(instanceId) ?? new Set<ExecProcess>();
    set.add(p);
    this.#live.set(instanceId, set);
    void p.done.finally(() => set.delete(p));
    return p;
  }

  /** End every copy this agent runs (the agent stops). */
  endCopies(): void {
    this.#copies.close();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#copies.close();
    await Promise.all([...this.#servers.keys()].map((id) => this.#unlisten(id)));
  }

  async #listen(instanceId: number): Promise<void> {
    const rec = this.#records.get(instanceId);
    if (this.#closed || rec === undefined || this.#servers.has(instanceId)) return;
    const o = { hostKey: this.#hostKey, loginGraceMs: this.#o.loginGraceMs, keepaliveMs: this.#o.keepaliveMs };
    const listener = new SshListener(o, (client) => serveConnection(this, instanceId, client, this.#o.log));
    this.#servers.set(instanceId, listener);
    await listener
      .listen(rec.port, this.#o.bindAddress, (err) => this.#o.log.warn({ instanceId, err: String(err) }, 'SSH listener error'))
      .catch((err: unknown) => {
        if (this.#servers.get(instanceId) === listener) this.#servers.delete(instanceId);
        throw err;
      });
    // Stopped or closed while it bound (a name's lookup comes first): closed again, not left listening.
    if (this.#servers.get(instanceId) !== listener) return listener.close();
    this.#o.log.debug({ instanceId, port: rec.port }, 'SSH access listening');
  }

  async #unlisten(instanceId: number): Promise<void> {
    for (const p of this.#live.get(instanceId) ?? []) p.kill();
    this.#live.delete(instanceId);
    this.#servers.get(instanceId)?.close();
    this.#servers.delete(instanceId);
  }

  #file(instanceId: number): string {
    return join(this.#o.dataDir, 'ssh', `${instanceId}.json`);
  }

  async #save(instanceId: number): Promise<void> {
    const rec = this.#records.get(instanceId);
    if (rec === undefined) return;
    await writeFile(this.#file(instanceId), JSON.stringify(rec), { mode: 0o600 });
  }
}

function parseRecord(text: string): AccessRecord | null {
  try {
    const v = JSON.parse(text) as Partial<AccessRecord>;
    if (!Number.isInteger(v.port) || !Array.isArray(v.keys) || typeof v.env !== 'object' || v.env === null) return null;
    return { port: v.port as number, keys: v.keys.filter((k): k is string => typeof k === 'string'), env: v.env };
  } catch {
    return null;
  }
}
