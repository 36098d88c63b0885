import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { ONE_STORE } from '../helpers/stores.js';
import { startVastClients, vastClientsMissing, type VastClients } from '../helpers/vast-clients.js';

/**
 * SSH access to instances (docs/decisions/010-ssh-access.md): the real OpenSSH client and scp against the
 * agent's listener of a real process instance, keys from the account and from `attach ssh`, and the official
 * clients' ssh-url, scp-url, execute and copy.
 */
const SFTP = '/usr/lib/openssh/sftp-server';
function missing(): string | false {
  for (const b of ['/usr/bin/ssh', '/usr/bin/scp', '/usr/bin/ssh-keygen', '/usr/bin/rsync', SFTP])
    if (!existsSync(b)) return `${b} is not installed (openssh-client, openssh-sftp-server, rsync)`;
  return false;
}

interface Run {
  code: number;
  out: string;
  err: string;
}
function sh(cmd: string, args: string[], cwd?: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 60_000, ...(cwd !== undefined && { cwd }) }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1;
      resolve({ code, out: stdout, err: stderr });
    });
  });
}

for (const store of ONE_STORE) {
  describe(`SSH access to an instance (${store.name})`, { skip: store.skip || missing() || vastClientsMissing() }, () => {
    let g: TestGantry;
    let vast: VastClients;
    let dir: string;
    let key: string;
    let id: number;
    let port: number;
    const opts = (k: string): string[] => [
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'BatchMode=yes',
      '-o',
      'LogLevel=ERROR',
      '-i',
      k,
    ];
    const ssh = (k: string, cmd: string): Promise<Run> => sh('/usr/bin/ssh', [...opts(k), '-p', String(port), 'root@127.0.0.1', cmd]);
    const keygen = (file: string): string => {
      execFileSync('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
      return file;
    };

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-ssh-'));
      key = keygen(join(dir, 'id'));
      g = await startTestGantry(store);
      vast = startVastClients(g.url, g.adminKey as string);
      assert.equal((await g.api('POST', '/api/v0/ssh/', { ssh_key: await readFile(key + '.pub', 'utf8') })).status, 200);
      const offer = ((await g.api('POST', '/api/v0/bundles/', {})).body.offers as { id: number }[])[0];
      const created = await g.api('PUT', `/api/v0/asks/${offer!.id}/`, { image: 'x', disk: 1, runtype: 'ssh', onstart: 'sleep 600' });
      assert.equal(created.status, 200, created.text);
      id = created.body.new_contract as number;
      const row = await g.waitInstance(id, (r) => r.actual_status === 'running', 60_000);
      port = row.ssh_port as number;
      assert.ok(Number.isInteger(port), JSON.stringify(row));
      assert.deepEqual((row.ports as Record<string, unknown>)['22/tcp'], [{ HostIp: '0.0.0.0', HostPort: String(port) }]);
    });
    after(async () => {
      vast.close();
      await g.dispose();
      await rm(dir, { recursive: true, force: true });
    });

    it('runs commands over ssh with the account key, in the instance as its workload runs', async () => {
      const r = await ssh(key, 'echo hi > f; cat f; echo "$CONTAINER_ID"; pwd');
      assert.equal(r.code, 0, r.err);
      const [hi, cid, pwd] = r.out.trim().split('\n');
      assert.equal(hi, 'hi');
      assert.equal(cid, String(id));
      assert.match(pwd ?? '', new RegExp(`/${id}/disk$`));
      const exit = await ssh(key, 'exit 7');
      assert.equal(exit.code, 7);
    });

    it('copies files in and out with scp (SFTP and the legacy protocol)', async () => {
      await writeFile(join(dir, 'up.txt'), 'payload\n');
      for (const mode of [[], ['-O']]) {
        const target = `root@127.0.0.1:up${mode.length}.txt`;
        const up = await sh('/usr/bin/scp', [...opts(key), ...mode, '-P', String(port), join(dir, 'up.txt'), target]);
        assert.equal(up.code, 0, up.err);
        const down = await sh('/usr/bin/scp', [...opts(key), ...mode, '-P', String(port), target, join(dir, `down${mode.length}.txt`)]);
        assert.equal(down.code, 0, down.err);
        assert.equal(await readFile(join(dir, `down${mode.length}.txt`), 'utf8'), 'payload\n');
      }
    });

    it('refuses an unknown key; attach ssh and detach ssh take effect without a restart', async () => {
      const other = keygen(join(dir, 'other'));
      const pub = (await readFile(other + '.pub', 'utf8')).trim();
      assert.notEqual((await ssh(other, 'true')).code, 0);
      const attached = await vast.legacy(['attach', 'ssh', String(id), pub]);
      assert.doesNotMatch(attached.out, /error/i, attached.out);
      assert.equal((await ssh(other, 'echo in')).out.trim(), 'in');
      const keys = (await g.api('GET', `/api/v0/instances/${id}/ssh/`)).body.keys as { id: number; public_key: string }[];
      const k = keys.find((x) => x.public_key.includes(pub.split(' ')[1] as string));
      assert.ok(k !== undefined, JSON.stringify(keys));
      await vast.legacy(['detach', 'ssh', String(id), String(k.id)]);
      assert.notEqual((await ssh(other, 'true')).code, 0);
      assert.equal((await ssh(key, 'echo still')).out.trim(), 'still');
    });

    it("the clients' ssh-url and scp-url point at the instance's SSH port", async () => {
      for (const client of ['legacy', 'vastai'] as const) {
        assert.equal((await vast[client](['ssh-url', String(id)])).out.trim().split('\n').at(-1), `ssh://root@127.0.0.1:${port}`);
        assert.equal((await vast[client](['scp-url', String(id)])).out.trim().split('\n').at(-1), `scp://root@127.0.0.1:${port}`);
      }
    });

    it('execute runs ls, du and rm inside the instance and answers through a result URL', async () => {
      assert.equal((await ssh(key, 'mkdir -p ex && echo one > ex/a.txt && echo two > ex/b.txt')).code, 0);
      const ls = await vast.legacy(['execute', String(id), 'ls -l ex']);
      assert.match(ls.out, /a\.txt/, ls.out);
      assert.match(ls.out, /b\.txt/, ls.out);
      // The vastai CLI cannot read Vast's result-URL answer (it calls .get on the fetched text): it gets the output inline.
      const du = await vast.vastai(['execute', String(id), 'du -a ex']);
      assert.doesNotMatch(du.out, /Traceback|Error/, du.out);
      assert.match(du.out, /ex\/b\.txt/, du.out);
      const rm = await vast.sdk(`from vastai import VastAI\nprint(repr(VastAI(api_key=KEY, server_url=URL).execute(${id}, 'rm ex/a.txt')))`);
      assert.equal(rm.code, 0, rm.out);
      assert.equal((await ssh(key, 'ls ex')).out.trim(), 'b.txt');
      const refused = await g.api('PUT', `/api/v0/instances/command/${id}/`, { command: 'cat /etc/passwd; id' });
      assert.equal(refused.status, 400, refused.text);
      assert.match(refused.body.msg, /ls, du or rm/);
    });

    it('copy moves a folder to and from the instance with rsync over SSH; cloud and VM copies are refused', async () => {
      const local = join(dir, 'local');
      await mkdir(join(local, 'data'), { recursive: true });
      await writeFile(join(local, 'data', 'file.txt'), 'copied\n');
      // The clients put --identity into their ssh command line as it is: the extra options keep known_hosts untouched.
      const identity = `${key} -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR`;
      const up = await vast.legacy(['copy', join(local, 'data'), `C.${id}:/inbox`, '--identity', identity]);
      assert.match(up.out, /rsync/, up.out);
      assert.equal((await ssh(key, 'cat inbox/data/file.txt')).out, 'copied\n');
      const down = await vast.vastai(['copy', `C.${id}:/inbox/data`, `local:${join(local, 'back')}`, '--identity', identity]);
      assert.match(down.out, /rsync/, down.out);
      assert.equal(await readFile(join(local, 'back', 'data', 'file.txt'), 'utf8'), 'copied\n');
      const cloud = await vast.legacy([
        'cloud',
        'copy',
        '--src',
        '/inbox',
        '--dst',
        '/x',
        '--instance',
        String(id),
        '--connection',
        '1',
        '--transfer',
        'Instance To Cloud',
      ]);
      assert.match(cloud.out, /not available.*offline/, cloud.out);
      const vm = await g.api('PUT', '/api/v0/commands/copy_direct/', { client_id: 'me', src_id: id, dst_id: id });
      assert.equal(vm.status, 400);
      assert.match(vm.body.msg, /VM/);
      assert.match((await vast.legacy(['cancel', 'copy', String(id)])).out, /nothing to cancel|canceled/i);
      assert.match((await vast.vastai(['cancel', 'sync', String(id)])).out, /not available/);
    });
  });
}
