// A private Podman API service for the tests (Docker Engine API on a unix socket) and a tiny test image
// built from the static busybox binary: no registry is needed. Settings follow what works on CI
// machines: runc, cgroupfs, ulimits within the machine's hard limits (see README "Running the tests").
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, copyFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TEST_IMAGE = 'localhost/gantry-test/busybox:1';
const APPLETS = ['sh', 'sleep', 'echo', 'cat', 'ls', 'env', 'httpd', 'kill', 'mv', 'printf', 'true', 'false', 'id', 'wget', 'yes', 'head', 'dd'];

function which(cmd) {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

function ping(socket) {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path: '/_ping', method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

/** Returns null (with the reason) when podman or a static busybox is missing. */
export async function startPodman() {
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  if (!which('podman')) return { skip: 'podman is not installed (apt-get install -y podman runc busybox-static)' };
  if (!busybox) return { skip: 'busybox is not installed (apt-get install -y busybox-static)' };
  const dir = mkdtempSync(join(tmpdir(), 'gantry-podman-'));
  const conf = join(dir, 'containers.conf');
  writeFileSync(conf, '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\n');
  const env = { ...process.env, CONTAINERS_CONF: conf };
  const socket = join(dir, 'podman.sock');
  const svc = spawn('podman', ['system', 'service', '--time=0', `unix://${socket}`], { env, stdio: 'ignore', detached: true });
  svc.unref();
  const deadline = Date.now() + 30_000;
  while (!(await ping(socket))) {
    if (Date.now() > deadline) {
      try {
        process.kill(-svc.pid, 'SIGTERM');
      } catch {}
      return { skip: 'podman system service did not answer within 30 s' };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    execFileSync('podman', ['image', 'exists', TEST_IMAGE], { env, stdio: 'ignore' });
  } catch {
    const rootfs = join(dir, 'rootfs');
    for (const d of ['bin', 'tmp', 'workspace', 'etc']) mkdirSync(join(rootfs, d), { recursive: true });
    copyFileSync(busybox, join(rootfs, 'bin', 'busybox'));
    for (const a of APPLETS) symlinkSync('busybox', join(rootfs, 'bin', a));
    writeFileSync(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    const tar = spawn('tar', ['-C', rootfs, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const imp = spawn('podman', ['import', '--change', 'CMD ["/bin/sh"]', '-', TEST_IMAGE], { env, stdio: [tar.stdout, 'ignore', 'inherit'] });
    const code = await new Promise((r) => imp.on('exit', r));
    if (code !== 0) return { skip: `podman import of the test image failed (exit ${code})` };
  }
  return {
    dockerHost: `unix://${socket}`,
    image: TEST_IMAGE,
    async stop() {
      try {
        process.kill(-svc.pid, 'SIGTERM');
      } catch {}
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
