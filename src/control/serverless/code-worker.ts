import { fileURLToPath } from 'node:url';
import { parseEnv } from '../../domain/instance/env.js';
import { codeRuntimeOf } from '../../domain/serverless/code-deployment.js';
import type { InstanceRecord } from '../../domain/instance/instance.js';
import type { ControlContext } from '../context.js';
import { DEFAULT_WORKER_PORT } from './workergroups.js';

/**
 * A code deployment's worker runs Vast's bootstrap unchanged (decision 020): `serve_deployment`
 * downloads the code through `download_url`, applies its config (env, apt, pip, run scripts) and
 * starts Vast's worker library (`vastai.serverless.server.worker.Worker`), which serves the remote
 * functions on WORKER_PORT and reports to REPORT_ADDR. This file writes what it needs.
 */
export const BOOTSTRAP_MODULE = 'vastai.serverless.remote.serve_deployment';

/**
 * The worker template's onstart: the host's Python runs the bootstrap module. Which Python, and the
 * PYTHONPATH that finds the `vastai` package, are settings (`codeWorkerPython`, `codeWorkerPythonPath`)
 * given at each start (codeWorkerEnv), so a change of them reaches the next worker without a new
 * template. `exec`: the bootstrap's exit is the onstart's, so a bootstrap that fails (a run script
 * exiting 1) is a worker error with its output, not a quiet idle.
 */
export const BOOTSTRAP_ONSTART = [
  "# Gantry: Vast's deployment bootstrap, unchanged (decision 020), run by the host's Python (codeWorkerPython).",
  `exec "\${GANTRY_CODE_PYTHON:-python3}" -m ${BOOTSTRAP_MODULE}`,
].join('\n');

/**
 * The onstart of a deployment made by Gantry's Node SDK (`GANTRY_CODE_RUNTIME=node` in its env):
 * Gantry's Node bootstrap (src/sdk/code/code-worker.ts) instead of Vast's; which Node and where the
 * bootstrap is are given at each start (codeWorkerEnv), as the Python's are.
 */
export const NODE_BOOTSTRAP_MARK = 'gantry code-worker';
export const NODE_BOOTSTRAP_ONSTART = [
  `# Gantry: the Node SDK's bootstrap (decision 020, ${NODE_BOOTSTRAP_MARK}), run by the server's own Node.`,
  'exec "${GANTRY_CODE_NODE:-node}" "$GANTRY_CODE_WORKER"',
].join('\n');

/** The bootstrap a code deployment's template runs, by the runtime its env asks for (Vast's Python one by default). */
export function bootstrapOnstart(env: string | null): string {
  return codeRuntimeOf(parseEnv(env ?? '').env) === 'node' ? NODE_BOOTSTRAP_ONSTART : BOOTSTRAP_ONSTART;
}

/** Where the Node bootstrap is in this server's own build (the process runtime runs it from there). */
const NODE_BOOTSTRAP_FILE = fileURLToPath(new URL('../../sdk/code/code-worker.js', import.meta.url));

/**
 * The worker template's env: the SDK's env string (`-p 3000:3000/tcp -e REPORT_ADDR=… -e K=V`, as
 * Vast parses it) plus the port Vast's worker library serves its internal `/session/end` on
 * (WORKER_HTTP_PORT, WORKER_PORT + 1 inside a container): published too, so that on the process
 * runtime, where ports are the host's, it gets a port of its own instead of a neighbour's.
 */
export function codeWorkerEnvString(env: string | null): string {
  const parsed = parseEnv(env ?? '');
  const worker = parsed.ports[0]?.containerPort ?? DEFAULT_WORKER_PORT;
  const extra = parsed.ports.length === 0 ? [`-p ${worker}:${worker}/tcp`] : [];
  if (!parsed.ports.some((p) => p.containerPort === worker + 1 && p.proto === 'tcp')) extra.push(`-p ${worker + 1}:${worker + 1}/tcp`);
  return [env ?? '', ...extra].filter((w) => w.trim() !== '').join(' ');
}

/** Whether an instance runs the bootstrap (a serverless worker whose onstart is BOOTSTRAP_ONSTART's). */
export function runsBootstrap(inst: Pick<InstanceRecord, 'onstart' | 'endpointId'>): boolean {
  return inst.endpointId !== null && typeof inst.onstart === 'string' && (inst.onstart.includes(`-m ${BOOTSTRAP_MODULE}`) || runsNodeBootstrap(inst));
}

function runsNodeBootstrap(inst: Pick<InstanceRecord, 'onstart'>): boolean {
  return typeof inst.onstart === 'string' && inst.onstart.includes(NODE_BOOTSTRAP_MARK);
}

/**
 * What the bootstrap and Vast's worker library read, beside what every worker gets (REPORT_ADDR,
 * MASTER_TOKEN, CONTAINER_ID, CONTAINER_API_KEY, WORKER_PORT): its deployment, this server's URL as
 * the worker reaches it (over the SDK's own `VAST_API_URL`, the client's view), deployment mode,
 * unbuffered output (the phases show as they happen), the host's Python and its PYTHONPATH, the
 * worker library's own port lookup `VAST_TCP_PORT_<WORKER_PORT>` and WORKER_HTTP_PORT. Empty for
 * other instances.
 */
export async function codeWorkerEnv(ctx: ControlContext, inst: InstanceRecord, injected: Readonly<Record<string, string>>): Promise<Record<string, string>> {
  if (!runsBootstrap(inst) || inst.endpointId === null) return {};
  const d = await ctx.store.findDeploymentByEndpoint(inst.endpointId);
  if (d === undefined) return {};
  const out: Record<string, string> = {
    DEPLOYMENT_ID: String(d.id),
    VAST_API_URL: ctx.apiUrl(),
    IS_DEPLOYMENT: 'true',
  };
  if (runsNodeBootstrap(inst)) {
    // This server's Node and its build's bootstrap: the process runtime's workers run on this host's files.
    out.GANTRY_CODE_NODE = process.execPath;
    out.GANTRY_CODE_WORKER = NODE_BOOTSTRAP_FILE;
  } else {
    out.PYTHONUNBUFFERED = '1';
    out.GANTRY_CODE_PYTHON = ctx.settings.codeWorkerPython;
    // The setting's path first, then the worker's own (its template env), as a PYTHONPATH export would.
    const path = [ctx.settings.codeWorkerPythonPath ?? '', inst.env.PYTHONPATH ?? ''].filter((p) => p !== '').join(':');
    if (path !== '') out.PYTHONPATH = path;
  }
  const first = inst.ports[0];
  if (first !== undefined) {
    // On the process runtime WORKER_PORT is the host port; the library looks up VAST_TCP_PORT_<WORKER_PORT>.
    const own = `VAST_TCP_PORT_${first.hostPort}`;
    if (injected[own] === undefined) out[own] = String(first.hostPort);
    const http = inst.ports.find((p) => p.containerPort === first.containerPort + 1 && p.proto === 'tcp');
    if (http !== undefined) out.WORKER_HTTP_PORT = String(http.hostPort);
  }
  return out;
}
