import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { bwrapArgs, nvidiaDevices, reachable, type SandboxMounts } from '../../src/runtime/process/sandbox.js';
import { ENV_HANDOFF } from '../../src/runtime/process/sandbox-env.js';

const base: SandboxMounts = {
  dataDir: '/var/lib/gantry',
  disk: '/var/lib/gantry/instances/7/disk',
  meta: '/var/lib/gantry/instances/7/meta',
  out: '/var/lib/gantry/instances/7/meta/out',
  readOnly: [],
  hidden: [],
  devices: [],
  identity: null,
};

/** The mount options in order, as `kind path` strings. */
function mounts(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--') break;
    if (a === '--tmpfs') out.push(`tmpfs ${args[++i] as string}`);
    if (a === '--bind' || a === '--ro-bind' || a === '--dev-bind-try') {
      out.push(`${a.slice(2)} ${args[i + 1] as string}`);
      i += 2;
    }
  }
  return out;
}

describe('process sandbox argv', () => {
  it('unshares user, pid, ipc and uts but keeps the host network, and runs the command after --', () => {
    const args = bwrapArgs(base, ['bash', 'run.sh', 'x']);
    for (const f of ['--unshare-user', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--new-session']) assert.ok(args.includes(f), f);
    assert.ok(!args.includes('--unshare-net') && !args.includes('--unshare-all'));
    // Through the environment's hand-off (sandbox-env.ts): the workload's env is set only inside, as the tenant.
    assert.deepEqual(args.slice(args.indexOf('--') + 1), [...ENV_HANDOFF, 'bash', 'run.sh', 'x']);
    assert.deepEqual(args.slice(args.indexOf('--chdir'), args.indexOf('--chdir') + 2), ['--chdir', base.disk]);
  });

  it('hides the data dir and /tmp, then binds back only this instance: disk and out read-write, meta read-only', () => {
    assert.deepEqual(mounts(bwrapArgs(base, ['true'])), [
      'ro-bind /',
      'tmpfs /tmp',
      'tmpfs /var/lib/gantry',
      'bind /var/lib/gantry/instances/7/disk',
      'ro-bind /var/lib/gantry/instances/7/meta',
      'bind /var/lib/gantry/instances/7/meta/out',
    ]);
  });

  it('passes every GPU device through (a fake device list)', () => {
    const args = bwrapArgs({ ...base, devices: ['/dev/nvidia0', '/dev/nvidia1', '/dev/nvidiactl', '/dev/nvidia-uvm'] }, ['true']);
    const m = mounts(args);
    for (const d of ['/dev/nvidia0', '/dev/nvidia1', '/dev/nvidiactl', '/dev/nvidia-uvm']) assert.ok(m.includes(`dev-bind-try ${d}`), d);
    // After the fresh /dev, or it would cover them.
    assert.ok(args.indexOf('--dev') < args.indexOf('--dev-bind-try'));
  });

  it('a read-only package folder that holds the data dir does not show it again', () => {
    const m = mounts(bwrapArgs({ ...base, readOnly: ['/var/lib'], hidden: ['/root'] }, ['true']));
    assert.ok(m.indexOf('ro-bind /var/lib') < m.indexOf('tmpfs /var/lib/gantry'));
    assert.ok(m.includes('tmpfs /root'));
  });

  it('finds NVIDIA devices in a device folder', () => {
    const dev = mkdtempSync(join(tmpdir(), 'gantry-dev-'));
    try {
      for (const n of ['nvidia0', 'nvidiactl', 'nvidia-uvm', 'null', 'sda']) writeFileSync(join(dev, n), '');
      assert.deepEqual(nvidiaDevices(dev), [join(dev, 'nvidia-uvm'), join(dev, 'nvidia0'), join(dev, 'nvidiactl')]);
      assert.deepEqual(nvidiaDevices(join(dev, 'missing')), []);
    } finally {
      rmSync(dev, { recursive: true, force: true });
    }
  });

  it('a package under a private (0700) folder: the folder is hidden and the package bound back, through symlinks', () => {
    const root = mkdtempSync(join(tmpdir(), 'gantry-reach-'));
    try {
      chmodSync(root, 0o755);
      mkdirSync(join(root, 'private', 'deeper', 'pkg'), { recursive: true });
      chmodSync(join(root, 'private'), 0o700);
      chmodSync(join(root, 'private', 'deeper'), 0o700);
      symlinkSync(join(root, 'private', 'deeper', 'pkg'), join(root, 'link'));
      const r = reachable([join(root, 'link'), join(root, 'nothing-here')]);
      assert.deepEqual(r.readOnly, [join(root, 'private', 'deeper', 'pkg')]);
      assert.deepEqual(r.hidden, [join(root, 'private')]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
