import { Command } from 'commander';
import { registerAccountCommands } from '../../src/cli/account-commands.js';
import { registerBidVolumeCommands } from '../../src/cli/bid-volume-commands.js';
import { registerHostCommands } from '../../src/cli/host-commands.js';
import { registerInstanceCommands } from '../../src/cli/instance-commands.js';
import { registerServerlessCommands } from '../../src/cli/serverless-commands.js';
import type { CliResult } from './cli.js';

/**
 * The CLI's data verbs run in this process: a spawned `gantry` loads the whole server first (seconds on a
 * busy machine), and the CLI tests run dozens of verbs. The real entry point is spawned for a few of them.
 * Only strings are captured: the test runner's own reports to its parent are buffers and pass through.
 */
let queue: Promise<unknown> = Promise.resolve();
export function inProcess(args: readonly string[], url: string, key: string): Promise<CliResult> {
  // One verb at a time: the capture and the exit code are the process's.
  const next = queue.then(() => runOne(args, url, key));
  queue = next.catch(() => undefined);
  return next;
}

async function runOne(args: readonly string[], url: string, key: string): Promise<CliResult> {
  const program = new Command('gantry').option('--url <url>').option('--api-key <key>').option('--raw').exitOverride();
  registerInstanceCommands(program);
  registerHostCommands(program);
  registerServerlessCommands(program);
  registerAccountCommands(program);
  registerBidVolumeCommands(program);
  const out = { stdout: '', stderr: '' };
  const capture = (stream: NodeJS.WriteStream, into: 'stdout' | 'stderr'): (() => void) => {
    const write = stream.write.bind(stream);
    stream.write = (chunk: unknown, ...rest: unknown[]): boolean => {
      if (typeof chunk !== 'string') return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
      out[into] += chunk;
      return true;
    };
    return () => void (stream.write = write);
  };
  const before = process.exitCode;
  process.exitCode = undefined;
  const restore = [capture(process.stdout, 'stdout'), capture(process.stderr, 'stderr')];
  let code = 0;
  try {
    await program.parseAsync(['node', 'gantry', '--url', url, '--api-key', key, ...args]);
    code = Number(process.exitCode ?? 0);
  } catch (err) {
    out.stderr += `error: ${err instanceof Error ? err.message : String(err)}\n`;
    code = 1;
  } finally {
    for (const r of restore) r();
    process.exitCode = before;
  }
  return { code, ...out };
}
