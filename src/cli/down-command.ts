import type { Command } from 'commander';
import { cliEnv } from '../config/load.js';
import { liveHolder } from '../main/data-dir-lock.js';

interface DownFlags {
  dataDir?: string;
  timeout?: string;
}

const stillRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * `gantry down`: SIGTERM to the process that holds the data dir's lock, then wait (bounded) until it
 * exited. Like Ctrl-C, it stops the control plane only: instances keep running and the next `gantry up`
 * re-adopts them.
 */
async function down(flags: DownFlags): Promise<void> {
  const dataDir = flags.dataDir ?? cliEnv().dataDir;
  const timeoutS = Number(flags.timeout ?? '30');
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new Error(`--timeout must be a positive number of seconds, not '${flags.timeout}'.`);
  const h = liveHolder(dataDir);
  if (h === null) {
    process.stdout.write(`No Gantry server runs on data dir ${dataDir}.\n`);
    return;
  }
  process.kill(h.pid, 'SIGTERM');
  const end = Date.now() + timeoutS * 1000;
  while (stillRunning(h.pid)) {
    if (Date.now() > end)
      throw new Error(
        `Gantry (pid ${h.pid}) did not exit within ${timeoutS}s of SIGTERM; wait longer (--timeout) or \`kill -9 ${h.pid}\` (instances keep running either way).`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
  process.stdout.write(`Stopped Gantry (pid ${h.pid}${h.url !== null ? `, ${h.url}` : ''}). Instances keep running; the next \`gantry up\` re-adopts them.\n`);
}

export function registerDown(program: Command): void {
  program
    .command('down')
    .description('stop the Gantry server of a data dir (its instances keep running and are re-adopted on the next start)')
    .option('--data-dir <dir>', 'state directory of the server to stop (default: GANTRY_DATA_DIR, then ~/.local/share/gantry)')
    .option('--timeout <seconds>', 'how long to wait for it to exit (default: 30)')
    .action((flags: DownFlags) => down(flags));
}
