import { spawn, execFileSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/**
 * The official Vast.ai clients, unchanged (../shared/reference/vast-cli), run with Debian's Python
 * (.ci/run installs its packages). One driver process per client imports it once and forks a child
 * per command (test/fixtures/vast/driver.py), so a verb costs its HTTP calls, not the import.
 */
export const VAST_CLI_DIR = join(fileURLToPath(new URL('../../../', import.meta.url)), '..', 'shared', 'reference', 'vast-cli');
const DRIVER = join(fileURLToPath(new URL('../../../', import.meta.url)), 'test', 'fixtures', 'vast', 'driver.py');
const PYTHON = '/usr/bin/python3';

export type ClientKind = 'legacy' | 'vastai' | 'sdk';
export interface CliResult {
  /** Exit status. The legacy CLI exits 0 on HTTP errors: judge a command by `out`. */
  code: number;
  /** stdout and stderr together. */
  out: string;
}

/** Why the clients cannot run here, or false. */
export function vastClientsMissing(): string | false {
  if (!existsSync(join(VAST_CLI_DIR, 'vast.py'))) return `the official clients are not at ${VAST_CLI_DIR}`;
  try {
    execFileSync(PYTHON, ['-c', 'import requests, dateutil, argcomplete, rich, aiohttp'], { stdio: 'ignore' });
    return false;
  } catch {
    return `${PYTHON} lacks Debian's python3-requests, -dateutil, -argcomplete, -rich or -aiohttp`;
  }
}

class Driver {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting: ((r: CliResult) => void)[] = [];
  private chain: Promise<unknown> = Promise.resolve();

  constructor(kind: ClientKind, env: NodeJS.ProcessEnv, timeoutS: number) {
    this.child = spawn(PYTHON, [DRIVER, kind, VAST_CLI_DIR, String(timeoutS)], { env });
    this.child.stderr.on('data', (d: Buffer) => process.stderr.write(`[vast ${kind} driver] ${d.toString()}`));
    createInterface({ input: this.child.stdout }).on('line', (line) => this.waiting.shift()?.(JSON.parse(line) as CliResult));
    this.child.on('exit', () => {
      for (const w of this.waiting.splice(0)) w({ code: -1, out: `the ${kind} driver exited` });
    });
  }

  /** One request at a time, in order. */
  run(request: ({ argv: string[] } | { code: string }) & { input?: string }): Promise<CliResult> {
    const next = this.chain.then(
      () =>
        new Promise<CliResult>((resolve) => {
          this.waiting.push(resolve);
          this.child.stdin.write(JSON.stringify(request) + '\n');
        }),
    );
    this.chain = next;
    return next;
  }

  close(): void {
    this.child.stdin.end();
    this.child.kill();
  }
}

export interface VastClients {
  /** `vast.py --url URL --api-key KEY ...args`; `input` answers its prompts (else they read end-of-input). */
  legacy(args: string[], key?: string, input?: string): Promise<CliResult>;
  /** `vastai --url URL --api-key KEY ...args` */
  vastai(args: string[], key?: string, input?: string): Promise<CliResult>;
  /** Python run with `VastAI` imported, `URL` and `KEY` defined; print what the test reads. */
  sdk(code: string): Promise<CliResult>;
  readonly home: string;
  close(): void;
}

/**
 * Drivers for a Gantry at `url`. vast.py loads GPU names from VAST_URL while building its parser
 * and some verbs switch to Vast's own hosts when --url equals VAST_URL textually, so --url names
 * the server as `localhost` and VAST_URL as 127.0.0.1.
 */
export function startVastClients(url: string, key: string, opts: { timeoutS?: number } = {}): VastClients {
  const home = mkdtempSync(join(tmpdir(), 'gantry-vast-home-'));
  const cliUrl = url.replace('127.0.0.1', 'localhost');
  // No support bundle: a self-test that finds this machine wanting (it has no GPU) would leave a tarball in /tmp per run.
  const env = {
    ...process.env,
    PYTHONPATH: VAST_CLI_DIR,
    HOME: home,
    VAST_URL: url.replace('localhost', '127.0.0.1'),
    PYTHONDONTWRITEBYTECODE: '1',
    VAST_SELF_TEST_SUPPORT_BUNDLE: '0',
  };
  const timeout = opts.timeoutS ?? 60;
  const drivers = new Map<ClientKind, Driver>();
  const driver = (kind: ClientKind): Driver => {
    let d = drivers.get(kind);
    if (d === undefined) drivers.set(kind, (d = new Driver(kind, env, timeout)));
    return d;
  };
  const cli = (kind: 'legacy' | 'vastai') => (args: string[], k?: string, input?: string) =>
    driver(kind).run({ argv: ['--url', cliUrl, '--api-key', k ?? key, ...args], ...(input !== undefined ? { input } : {}) });
  return {
    home,
    legacy: cli('legacy'),
    vastai: cli('vastai'),
    sdk: (code) => driver('sdk').run({ code: `URL = ${JSON.stringify(cliUrl)}\nKEY = ${JSON.stringify(key)}\n${code}` }),
    close: () => {
      for (const d of drivers.values()) d.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}
