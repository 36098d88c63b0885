import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { ProcessRuntime, type ProcessSandbox } from '../runtime/process/process-runtime.js';
import { foreignWorkloadUnder } from '../runtime/process/foreign-workloads.js';
import { nvidiaDevices, probeBwrap, reachable } from '../runtime/process/sandbox.js';
import type { Runtime } from '../runtime/runtime.js';
import { checkUidBase, claimUidBase } from './uid-base-claim.js';

export interface OpenedRuntime {
  readonly runtime: Runtime;
  /** Whether tenants' workloads are isolated from each other and from Gantry (containers, or the process sandbox). */
  readonly sandboxed: boolean;
}

/**
 * `--runtime`: docker (Docker Engine API, also Podman's), process, or auto: docker when an engine answers at
 * DOCKER_HOST (else the default socket), process otherwise. `nvidiaGpus`: real GPUs go to containers as device requests.
 */
export async function openRuntime(c: Config, o: { log: Logger; workloadEnv: Readonly<Record<string, string>>; nvidiaGpus: boolean }): Promise<OpenedRuntime> {
  const root = join(c.dataDir, 'instances');
  // Loaded only where containers may run: the Docker client brings gRPC and protobuf with it, a good part of
  // a process-runtime host's start.
  const { DockerRuntime } = c.runtime === 'process' ? { DockerRuntime: null } : await import('../runtime/docker/docker-runtime.js');
  const docker =
    DockerRuntime !== null && (c.runtime === 'docker' || (c.runtime === 'auto' && (await DockerRuntime.probe(c.dockerHost, c.engineProbeTimeoutMs))));
  if (docker) {
    try {
      return {
        runtime: await DockerRuntime.open({
          root,
          dockerHost: c.dockerHost,
          killWaitMs: c.killWaitMs,
          pollMs: 100,
          nvidiaGpus: o.nvidiaGpus,
          // A container made by hand under an instance's label gets what a stop gives.
          strayGraceMs: c.stopGraceMs,
          pullStallMs: c.imagePullStallMs,
          readTimeoutMs: c.agentReadTimeoutMs,
        }),
        sandboxed: true,
      };
    } catch (err) {
      throw new Error(`no container engine answers at ${c.dockerHost ?? 'unix:///var/run/docker.sock'} (${err instanceof Error ? err.message : String(err)})`);
    }
  }
  if (c.runtime === 'auto') o.log.info('no container engine found; running workloads as process groups');
  const sandbox = await processSandbox(c, o.log);
  const runtime = await ProcessRuntime.open({ root, killWaitMs: c.killWaitMs, pollMs: 10, baseEnv: o.workloadEnv, ...(sandbox ? { sandbox } : {}) });
  return { runtime, sandboxed: sandbox !== null };
}

/**
 * What a code deployment's worker needs from the host besides Node and Gantry: the folders of
 * codeWorkerPythonPath, and the prefix of codeWorkerPython (a virtual environment) when it lies where the
 * sandbox shows an empty folder (/tmp, the home of the user running Gantry). Bound back read-only.
 */
export function codeWorkerPaths(c: Pick<Config, 'codeWorkerPython' | 'codeWorkerPythonPath'>, home: string): string[] {
  const paths = (c.codeWorkerPythonPath ?? '').split(':').filter((p) => isAbsolute(p));
  const hidden = (p: string): boolean => p.startsWith('/tmp/') || (home !== '/' && home !== '' && p.startsWith(home + sep));
  if (isAbsolute(c.codeWorkerPython) && hidden(c.codeWorkerPython)) paths.push(dirname(dirname(c.codeWorkerPython)));
  return paths;
}

/** The package folder this code runs from (dist/src/main/runtime.js → the package): workers run Gantry's code from it. */
function packageDir(): string {
  return fileURLToPath(new URL('../../../', import.meta.url));
}

/**
 * Refuse, writing nothing, a sandbox uid base another install holds, where this one could run workloads
 * under it: root, the sandbox not off, and a runtime that may be the process one (`auto` falls back to it
 * on any start whose container engine is gone); nor one under which another install's workloads run. Checked
 * before a first start makes the data dir and admin (`gantry up`) or its data dir (`gantry agent`).
 */
export async function checkSandboxUidBase(c: Config): Promise<void> {
  if (c.runtime === 'docker' || c.processSandbox === 'off' || process.getuid?.() !== 0) return;
  checkUidBase(c.sandboxUidBase, c.dataDir);
  await refuseForeignWorkloads(c);
}

/**
 * Another install's workloads under this base, which a claim cannot show when that install predates claims: its
 * instance N runs as the uid this one gives its own, and each would adopt and stop the other's processes.
 */
async function refuseForeignWorkloads(c: Config): Promise<void> {
  const idFile = join(c.dataDir, 'instances', 'runtime-id');
  const own = existsSync(idFile) ? readFileSync(idFile, 'utf8').trim() : null;
  const w = await foreignWorkloadUnder(c.sandboxUidBase, own);
  if (w === null) return;
  const where = w.folder !== null ? ` (its folder ${w.folder})` : '';
  throw new Error(
    `Another Gantry's workloads run under the sandbox uid base ${c.sandboxUidBase}: process ${w.pid}, instance ${w.instanceId} of runtime ${w.runtimeId}${where}, ` +
      `runs as uid ${w.uid}, the uid this install gives its own instance ${w.instanceId}; each would take the other's processes for its own and stop them. ` +
      'Give each Gantry on one machine its own sandboxUidBase (GANTRY_SANDBOX_UID_BASE): change it on the install that has no instances yet, since ' +
      "instances made under the old base keep disks owned by the old uids; or stop the other install's workloads first (gantry down --workloads there).",
  );
}

/** The sandbox to run workloads in, or null (with a warning) when it is off or cannot be had here. */
async function processSandbox(c: Config, log: Logger): Promise<ProcessSandbox | null> {
  if (c.processSandbox !== 'auto' && c.processSandbox !== 'bwrap' && c.processSandbox !== 'off') {
    throw new Error(`processSandbox must be auto, bwrap or off, got ${JSON.stringify(c.processSandbox)}`);
  }
  const unsafe = c.unsafeSharedProcessRuntime
    ? "this host takes every account's instances anyway (--unsafe-shared-process-runtime): tenants can read each other's files and Gantry's keys"
    : "this host takes only its owner's instances (pass --unsafe-shared-process-runtime to accept others' anyway)";
  if (c.processSandbox === 'off') {
    log.warn(`WORKLOADS ARE NOT ISOLATED: the process sandbox is off (processSandbox=off); ${unsafe}`);
    return null;
  }
  const root = process.getuid?.() === 0;
  const uidBase = root ? c.sandboxUidBase : null;
  const probe = await probeBwrap({ identity: uidBase === null ? null : { uid: uidBase, gid: uidBase }, timeoutMs: c.sandboxProbeTimeoutMs });
  if (!probe.ok) {
    if (c.processSandbox === 'bwrap') throw new Error(`processSandbox=bwrap but no sandbox runs here: ${probe.reason}`);
    log.warn(`WORKLOADS ARE NOT ISOLATED: no process sandbox here (${probe.reason}); ${unsafe}`);
    return null;
  }
  const home = homedir();
  const wanted = [process.execPath, packageDir(), join(packageDir(), 'node_modules'), ...codeWorkerPaths(c, home)];
  const readOnly: string[] = [];
  const hidden: string[] = home !== '/' && home !== '' ? [home] : [];
  for (const p of wanted) {
    // A private (0700) folder on the way is covered by a tmpfs and the path bound back into it.
    const r = reachable([p]);
    readOnly.push(...r.readOnly);
    hidden.push(...r.hidden);
  }
  // Checked before the data dir was written (`checkSandboxUidBase`, by `gantry up` and `gantry agent`): claimed now.
  if (uidBase !== null) claimUidBase(uidBase, c.dataDir);
  log.info({ uidBase, readOnly }, 'workloads run in a bubblewrap sandbox');
  return { dataDir: c.dataDir, uidBase, readOnly, hidden, devices: nvidiaDevices() };
}
