import { timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import ssh2 from 'ssh2';
import type { ExecProcess } from '../runtime/runtime.js';
import { COPY_CANCELLED } from '../domain/instance/copy-path.js';
import { COPY_IN } from './copy-runner.js';

/** What one SSH connection needs from the agent's SSH access (ssh-access.ts). */
export interface SessionHost {
  readonly sftpServer: string;
  readonly copyRoot: 'home' | '/';
  /** `bash`: the host's bash (process runtime); `image`: the container image's own shell and sftp-server. */
  readonly shell: SessionShell;
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
  /** Whether `cancel copy` ended this unpacking (the copy's source is told so on its error output). */
  copyCancelled(p: ExecProcess): boolean;
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

export type SessionShell = 'bash' | 'image';

/** In an image, bash where it has one (as most do), else its POSIX sh (busybox, alpine). */
const PICK_SHELL = 'if command -v bash >/dev/null 2>&1; then exec bash "$@"; fi; exec /bin/sh "$@"';

/** A shell with these arguments (`-c CMD`, `-l`), as sshd runs the user's shell. */
export function shellArgv(shell: SessionShell, args: readonly string[]): string[] {
  return shell === 'bash' ? ['bash', ...args] : ['/bin/sh', '-c', PICK_SHELL, 'sh', ...args];
}

/** Where images keep OpenSSH's sftp-server (Debian/Ubuntu, RHEL/Fedora, Alpine/Arch), after the configured one. */
const IMAGE_SFTP_SERVERS = ['/usr/lib/openssh/sftp-server', '/usr/libexec/openssh/sftp-server', '/usr/lib/ssh/sftp-server', '/usr/libexec/sftp-server'];

/** The `sftp` subsystem: the configured server, or in an image the first one it has, else a clear complaint. */
export function sftpArgv(shell: SessionShell, configured: string): string[] {
  if (shell === 'bash') return [configured];
  // Single quotes only: the text must not be read as redirections by the shell.
  const none =
    "echo 'gantry: this image has no sftp-server, so sftp and scp (SFTP mode) cannot work. Install openssh-sftp-server in the image, or copy with ssh and cat; scp -O needs scp in the image.' >&2";
  // The pause before the exit: Podman loses an exec's output when the client's first packet reaches stdin after
  // the process ended ("attach: broken pipe"), and the complaint is the whole point.
  const wait = 'sleep 1 2>/dev/null';
  return ['/bin/sh', '-c', `for p in "$@"; do if [ -x "$p" ]; then exec "$p"; fi; done; ${none}; ${wait}; exit 127`, 'sh', configured, ...IMAGE_SFTP_SERVERS];
}

type Tty = { term: string; cols: number; rows: number };

/** The client's terminal type, as TERM: a short name, else `xterm` (a NUL or a blank in it would reach the environment). */
export function terminalType(term: string): string {
  return /^[A-Za-z0-9._+-]{1,64}$/.test(term) ? term : 'xterm';
}

function serveSession(host: SessionHost, instanceId: number, session: ssh2.Session, log: Logger): void {
  let tty: Tty | null = null;
  session.on('pty', (accept, _reject, info) => {
    tty = { term: terminalType(info.term), cols: info.cols || 80, rows: info.rows || 24 };
    (accept as (() => void) | undefined)?.();
  });
  let live: ExecProcess | null = null;
  // A terminal's size is set when it opens; later changes apply where the runtime can resize (containers).
  session.on('window-change', (accept, _reject, info) => {
    (accept as (() => void) | undefined)?.();
    if (tty !== null) tty = { ...tty, cols: info.cols || tty.cols, rows: info.rows || tty.rows };
    if (tty !== null) live?.resize?.(tty.cols, tty.rows);
  });
  const started = (p: ExecProcess): void => {
    live = p;
  };
  session.on('env', (_accept, reject) => (reject as (() => void) | undefined)?.());
  session.on(
    'exec',
    (accept, _reject, info) => void run(host, instanceId, accept(), commandArgv(info.command, instanceId, host.copyRoot, host.shell), tty, log, started),
  );
  session.on('shell', (accept) => void run(host, instanceId, accept(), shellArgv(host.shell, ['-l']), tty, log, started));
  session.on('subsystem', (accept, reject, info) => {
    if (info.name !== 'sftp') return reject();
    void run(host, instanceId, accept(), sftpArgv(host.shell, host.sftpServer), null, log, started);
  });
}

/**
 * What an `exec` request runs: the command through bash, as sshd runs it through the user's shell. rsync's
 * daemon mode over SSH (`rsync … host::MODULE/path`, what `vastai copy` runs) gets a config with the
 * instance's module, named both `ID` and `C.ID`, rooted at its home or `/`.
 */
export function commandArgv(command: string, instanceId: number, copyRoot: 'home' | '/', shell: SessionShell = 'bash'): string[] {
  const daemon = /^\s*rsync\s+--server\s+--daemon\b/.test(command);
  if (!daemon) return shellArgv(shell, ['-c', command]);
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
  started: (p: ExecProcess) => void = () => undefined,
): Promise<void> {
  let p: ExecProcess;
  try {
    p = Array.isArray(what) ? await host.spawn(instanceId, what, tty) : await host.spawnCopyIn(instanceId, what.copyIn);
    started(p);
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
  if (!Array.isArray(what) && host.copyCancelled(p)) channel.stderr.write(`gantry: ${COPY_CANCELLED}\r\n`);
  if (signal !== null) channel.exit(signal.replace(/^SIG/, ''), false, '');
  else channel.exit(code ?? 255);
  channel.end();
}
