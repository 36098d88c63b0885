import { timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import ssh2 from 'ssh2';
import type { ExecProcess } from '../runtime/runtime.js';
import { COPY_IN } from './copy-runner.js';

/** What one SSH connection needs from the agent's SSH access (ssh-access.ts). */
export interface SessionHost {
  readonly sftpServer: string;
  readonly copyRoot: 'home' | '/';
  /** The instance's authorized public keys (OpenSSH one-line form), read at each authentication. */
  keysOf(instanceId: number): readonly string[];
  /** Run a command inside the instance (refused when it is not running). */
  spawn(instanceId: number, argv: readonly string[], tty: { term: string; cols: number; rows: number } | null): Promise<ExecProcess>;
  /** One-time keys granted for copies from other hosts into the instance (docs/decisions/011-instance-copy.md). */
  grantsOf(instanceId: number): readonly string[];
  /** A granted key logged in: it is spent. */
  useGrant(instanceId: number, key: string): void;
  /** What a granted login runs: a tar from stdin unpacked into the path (JSON) inside the instance. */
  spawnCopyIn(instanceId: number, pathJson: string): Promise<ExecProcess>;
}

/** Vast shows `root`; its copy commands log in as `vastai_kaalia`. Both are the instance's own user. */
const USERS = new Set(['root', 'vastai_kaalia']);

/** Serve one client of an instance's listener: public-key auth, then sessions (exec, shell, sftp). */
export function serveConnection(host: SessionHost, instanceId: number, client: ssh2.Connection, log: Logger): void {
  client.on('error', (err) => log.debug({ instanceId, err: String(err) }, 'SSH connection error'));
  /** Logged in with a copy's one-time key: the connection may only unpack that copy. */
  let copyOnly = false;
  client.on('authentication', (ctx) => {
    if (ctx.method !== 'publickey' || !USERS.has(ctx.username)) return ctx.reject(['publickey']);
    const k = ctx.key;
    const holds = (line: string): boolean => {
      const parsed = ssh2.utils.parseKey(line);
      if (parsed instanceof Error) return false;
      const pub = parsed.getPublicSSH();
      if (parsed.type !== k.algo || pub.length !== k.data.length || !timingSafeEqual(pub, k.data)) return false;
      // Without a signature the client only asks whether this key would do; with one it proves it holds the key.
      return ctx.signature === undefined || parsed.verify(ctx.blob ?? Buffer.alloc(0), ctx.signature, ctx.hashAlgo) === true;
    };
    if (host.keysOf(instanceId).some(holds)) return ctx.accept();
    const grant = host.grantsOf(instanceId).find(holds);
    if (grant === undefined) return ctx.reject(['publickey']);
    if (ctx.signature !== undefined) {
      host.useGrant(instanceId, grant);
      copyOnly = true;
    }
    return ctx.accept();
  });
  client.on('ready', () => {
    client.on('session', (accept) => (copyOnly ? serveCopyIn(host, instanceId, accept(), log) : serveSession(host, instanceId, accept(), log)));
  });
}

/** A session of a copy's one-time login: one exec of the copy-in command, nothing else (no shell, pty or sftp). */
function serveCopyIn(host: SessionHost, instanceId: number, session: ssh2.Session, log: Logger): void {
  session.on('pty', (_accept, reject) => (reject as (() => void) | undefined)?.());
  session.on('env', (_accept, reject) => (reject as (() => void) | undefined)?.());
  session.on('shell', (_accept, reject) => reject());
  session.on('subsystem', (_accept, reject) => reject());
  session.on('exec', (accept, reject, info) => {
    if (!info.command.startsWith(COPY_IN + ' ')) return reject();
    void run(host, instanceId, accept(), { copyIn: info.command.slice(COPY_IN.length + 1) }, null, log);
  });
}

type Tty = { term: string; cols: number; rows: number };

function serveSession(host: SessionHost, instanceId: number, session: ssh2.Session, log: Logger): void {
  let tty: Tty | null = null;
  session.on('pty', (accept, _reject, info) => {
    tty = { term: info.term || 'xterm', cols: info.cols || 80, rows: info.rows || 24 };
    (accept as (() => void) | undefined)?.();
  });
  // A terminal's size is set when it opens (`script` has no resize); later changes are acknowledged only.
  session.on('window-change', (accept) => (accept as (() => void) | undefined)?.());
  session.on('env', (_accept, reject) => (reject as (() => void) | undefined)?.());
  session.on('exec', (accept, _reject, info) => void run(host, instanceId, accept(), commandArgv(info.command, instanceId, host.copyRoot), tty, log));
  session.on('shell', (accept) => void run(host, instanceId, accept(), ['bash', '-l'], tty, log));
  session.on('subsystem', (accept, reject, info) => {
    if (info.name !== 'sftp') return reject();
    void run(host, instanceId, accept(), [host.sftpServer], null, log);
  });
}

/**
 * What an `exec` request runs: the command through bash, as sshd runs it through the user's shell. rsync's
 * daemon mode over SSH (`rsync … host::MODULE/path`, what `vastai copy` runs) gets a config with the
 * instance's module, named both `ID` and `C.ID`, rooted at its home or `/`.
 */
export function commandArgv(command: string, instanceId: number, copyRoot: 'home' | '/'): string[] {
  const daemon = /^\s*rsync\s+--server\s+--daemon\b/.test(command);
  if (!daemon) return ['bash', '-c', command];
  const root = copyRoot === 'home' ? '"path = $HOME"' : "'path = /'";
  // As root (no sandbox) rsync's daemon would switch to `nobody`; as the instance's uid it must not try to switch.
  const mod = `m() { printf '%s\\n' "[$1]" ${root} 'use chroot = no' 'read only = no' 'munge symlinks = no'; if [ "$(id -u)" = 0 ]; then printf '%s\\n' 'uid = 0' 'gid = 0'; fi; }`;
  const conf = `m ${instanceId}; m C.${instanceId}`;
  return ['bash', '-c', `${mod}; rsync --config=<(${conf}) ${command.trim().replace(/^rsync\s+/, '')}`];
}

async function run(
  host: SessionHost,
  instanceId: number,
  channel: ssh2.ServerChannel,
  what: string[] | { copyIn: string },
  tty: Tty | null,
  log: Logger,
): Promise<void> {
  let p: ExecProcess;
  try {
    p = Array.isArray(what) ? await host.spawn(instanceId, what, tty) : await host.spawnCopyIn(instanceId, what.copyIn);
  } catch (err) {
    channel.stderr.write(`gantry: ${err instanceof Error ? err.message : String(err)}\r\n`);
    channel.exit(1);
    channel.end();
    return;
  }
  let ended = false;
  channel.pipe(p.stdin);
  p.stdin.on('error', () => undefined); // the command may exit before reading all it was sent
  p.stdout.pipe(channel, { end: false });
  p.stderr.pipe(channel.stderr, { end: false });
  channel.on('close', () => {
    if (!ended) p.kill(); // the client went away: its command goes too
  });
  const { code, signal } = await p.done;
  ended = true;
  log.debug({ instanceId, code, signal }, 'SSH command ended');
  if (signal !== null) channel.exit(signal.replace(/^SIG/, ''), false, '');
  else channel.exit(code ?? 255);
  channel.end();
}
