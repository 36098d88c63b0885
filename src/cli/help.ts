import { readFileSync } from 'node:fs';
import type { Command } from 'commander';

/** The version in package.json (dist/src/cli/ → the package root). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

/** One line for the sub-commands registered without one (`gantry start --help` lists them). */
const DESCRIPTIONS: Readonly<Record<string, string>> = {
  'start instance': 'start a stopped instance (--wait: until it runs)',
  'start instances': 'start several stopped instances',
  'stop instance': 'stop an instance; its disk is kept (--wait: until it is stopped)',
  'stop instances': 'stop several instances',
  'destroy instance': 'destroy an instance and its disk (--wait: until it is gone)',
  'destroy instances': 'destroy several instances and their disks',
  'reboot instance': 'restart the workload of an instance on the same disk',
  'recycle instance': 'restart an instance on an empty disk, same GPUs',
  'label instance': "set an instance's label",
  'verify machine': 'admin: mark a machine verified (--unverify: remove the mark)',
};

/** Give the commands registered without a description line theirs from the table above. */
export function describeVerbs(program: Command): void {
  const walk = (cmd: Command, path: string[]): void => {
    for (const sub of cmd.commands) {
      const name = [...path, sub.name()];
      if (sub.description() === '') sub.description(DESCRIPTIONS[name.join(' ')] ?? '');
      walk(sub, name);
    }
  };
  walk(program, []);
}

/** Commands without a description line, by their full name (a test keeps this empty). */
export function undescribed(program: Command): string[] {
  const out: string[] = [];
  const walk = (cmd: Command, path: string[]): void => {
    for (const sub of cmd.commands) {
      const name = [...path, sub.name()];
      if (sub.description().trim() === '') out.push(name.join(' '));
      walk(sub, name);
    }
  };
  walk(program, []);
  return out;
}
