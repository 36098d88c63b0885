import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { commandArgv, sftpArgv, terminalType } from '../../src/agent/ssh-session.js';
import { envRecords } from '../../src/runtime/process/sandbox-env.js';
import { ed25519Pair } from '../../src/agent/ssh-keygen.js';
import { copySide, parseConstrained } from '../../src/control/instances/instance-commands.js';
import { shellJoin } from '../../src/runtime/process/session-files.js';

describe('SSH access: commands and copy locations', () => {
  it('execute takes ls, du and rm with plain arguments, and nothing a shell would read', () => {
    assert.deepEqual(parseConstrained('ls -l -o -r'), ['ls', '-l', '-o', '-r']);
    assert.deepEqual(parseConstrained("rm -r 'a b'"), ['rm', '-r', 'a b']);
    for (const bad of ['cat /etc/passwd', 'ls; id', 'ls $(id)', 'du `id`', 'ls > x', 'rm *', '']) assert.throws(() => parseConstrained(bad), bad);
    assert.throws(() => parseConstrained(42));
  });

  it('copy locations: an instance as ID or C.ID, the local side, and the rest named for the refusal', () => {
    assert.deepEqual(copySide('C.12'), { kind: 'instance', id: 12 });
    assert.deepEqual(copySide(12), { kind: 'instance', id: 12 });
    for (const l of [null, undefined, 'local', '']) assert.deepEqual(copySide(l), { kind: 'local' });
    assert.deepEqual(copySide('s3.101'), { kind: 'other', what: 's3.101' });
  });

  it("rsync's daemon mode gets the instance's modules; other commands run through bash as given", () => {
    assert.deepEqual(commandArgv('echo hi > f', 3, 'home'), ['bash', '-c', 'echo hi > f']);
    const [, , script] = commandArgv('rsync --server --daemon .', 3, 'home');
    assert.match(script ?? '', /m 3; m C\.3/);
    assert.match(script ?? '', /--server --daemon \.$/);
    assert.equal(shellJoin(['bash', '-l', "it's"]), "bash -l 'it'\\''s'");
  });

  it('in a container image: its bash or else its sh, and the first sftp-server it has', () => {
    const [sh, c, pick, zero, ...args] = commandArgv('echo hi', 3, '/', 'image');
    assert.deepEqual([sh, c, zero, ...args], ['/bin/sh', '-c', 'sh', '-c', 'echo hi']);
    assert.match(pick ?? '', /command -v bash/);
    assert.deepEqual(sftpArgv('bash', '/s'), ['/s']);
    assert.deepEqual(sftpArgv('image', '/s').slice(3, 5), ['sh', '/s']);
  });

  it("a client's terminal type reaches TERM only as a short name; an environment with a NUL is never handed over", () => {
    for (const t of ['xterm-256color', 'screen.xterm', 'rxvt-unicode+x']) assert.equal(terminalType(t), t);
    for (const t of ['xterm\0--setenv\0LD_PRELOAD\0/x.so', 'xterm LD_PRELOAD=x', '', 'x'.repeat(65)]) assert.equal(terminalType(t), 'xterm');
    assert.equal(envRecords({ A: '1', B: 'two words\n' }), 'A=1\0B=two words\n\0GANTRY_ENV_END\0');
    assert.throws(() => envRecords({ TERM: 'xterm\0LD_PRELOAD=/x.so' }), /cannot be passed/);
    assert.throws(() => envRecords({ 'A=B': '1' }), /cannot be passed/);
  });

  it('every key pair made for a host or a copy grant is one ssh2 reads back (its generator fails 1 in 256)', () => {
    for (let i = 0; i < 1000; i++) {
      const pair = ed25519Pair();
      assert.ok(!(ssh2.utils.parseKey(pair.private) instanceof Error) && !(ssh2.utils.parseKey(pair.public) instanceof Error));
    }
  });
});
