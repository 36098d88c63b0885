import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/* What commands run beside the workload need (Runtime.exec): a passwd entry for the instance's uid, shell quoting. */

/** `meta/passwd` and `meta/group`: the host's entries plus `instance` for the instance's own uid, its home the disk. */
export async function writeAccounts(meta: string, ids: { uid: number; gid: number }, home: string): Promise<void> {
  const own = (line: string, id: number): boolean => line.split(':')[2] === String(id) || line.startsWith('instance:');
  const host = async (f: string, id: number): Promise<string[]> =>
    (await readFile(f, 'utf8').catch(() => '')).split('\n').filter((l) => l.trim() !== '' && !own(l, id));
  const passwd = [...(await host('/etc/passwd', ids.uid)), `instance:x:${ids.uid}:${ids.gid}:Gantry instance:${home}:/bin/bash`];
  const group = [...(await host('/etc/group', ids.gid)), `instance:x:${ids.gid}:`];
  await writeFile(join(meta, 'passwd'), passwd.join('\n') + '\n', { mode: 0o644 });
  await writeFile(join(meta, 'group'), group.join('\n') + '\n', { mode: 0o644 });
}

/** POSIX shell words: each argument single-quoted. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
