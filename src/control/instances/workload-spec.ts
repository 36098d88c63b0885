import type { WorkloadSpec } from '../../runtime/runtime.js';
import type { ControlContext } from '../context.js';
import { secretEnv } from '../accounts/secrets.js';
import { instanceKey, reportRef, workerToken } from '../keys.js';
import type { InstanceRecord } from '../../domain/instance/instance.js';
import { GantryError } from '../../domain/errors.js';
import { codeWorkerEnv } from '../serverless/code-worker.js';
import { envValueReason, reservedEnvReason } from '../../domain/instance/env-rules.js';

/**
 * Env written before the rules of env-rules.ts (or past them) fails the start with a reason that names the
 * variable, never its value, instead of a runtime error that echoes the value or a start that dies silently.
 */
function checkStored(secrets: Record<string, string>, own: Readonly<Record<string, string>>): void {
  for (const [k, v] of Object.entries(secrets)) {
    const why = reservedEnvReason(k) ?? envValueReason(k, v);
    if (why !== null) throw new GantryError('INVALID_ENV', `account env var ${k} cannot be used: ${why} Change or delete it.`, { name: k });
  }
  for (const [k, v] of Object.entries(own)) {
    const why = envValueReason(k, v);
    if (why !== null) throw new GantryError('INVALID_ENV', `env var ${k} cannot be used: ${why}`, { name: k });
  }
}

/**
 * The environment Vast images expect, plus Gantry's own: the account's env vars (secrets, opened just
 * for this start), then the instance's own env, then the injected variables (which win, so a user
 * cannot spoof CONTAINER_ID). Attached SSH keys go to the disk's authorized_keys.
 */
export async function workloadSpec(ctx: ControlContext, inst: InstanceRecord): Promise<WorkloadSpec> {
  const injected: Record<string, string> = {
    CONTAINER_ID: String(inst.id),
    VAST_CONTAINERLABEL: `C.${inst.id}`,
    CONTAINER_API_KEY: instanceKey(ctx.secret, inst.id),
    GANTRY_URL: ctx.apiUrl(),
    CUDA_VISIBLE_DEVICES: inst.gpuIndices.join(','),
    PUBLIC_IPADDR: ctx.settings.publicIp,
  };
  const first = inst.ports[0];
  if (first !== undefined) injected.PORT = String(first.hostPort);
  for (const p of inst.ports) injected[`VAST_${p.proto.toUpperCase()}_PORT_${p.containerPort}`] = String(p.hostPort);
  if (inst.endpointId !== null) {
    // What Vast's workers read: where to report, the token that proves who reports, the port to serve on. The
    // report address names the endpoint: its workers check hand-outs with its own key from there (route-keys.ts).
    injected.REPORT_ADDR = `${ctx.apiUrl().replace(/\/+$/, '')}/report/${reportRef(ctx.secret, inst.endpointId)}`;
    injected.MASTER_TOKEN = workerToken(ctx.secret, inst.id);
    if (first !== undefined) injected.WORKER_PORT = String(first.hostPort);
  }
  Object.assign(injected, await codeWorkerEnv(ctx, inst, injected));
  const secrets = await secretEnv(ctx, inst.accountId);
  checkStored(secrets, inst.env);
  const command = [...(inst.entrypoint !== null ? [inst.entrypoint] : []), ...(inst.args ?? [])];
  return {
    instanceId: inst.id,
    image: inst.image,
    env: { ...secrets, ...inst.env, ...injected },
    onstart: inst.onstart,
    command,
    runtype: inst.runtype,
    gpuIndices: inst.gpuIndices,
    ports: inst.ports,
    sshKeys: (await ctx.store.instanceSshKeys(inst.id)).map((k) => k.publicKey),
    volumes: await ctx.store.instanceVolumes(inst.id),
    accountId: inst.accountId,
    // Instances made before SSH access existed get their port at their next start.
    sshPort: inst.sshPort ?? (await ctx.store.giveSshPort(inst.id, ctx.hosts.get(inst.machineId)?.busyPorts ?? new Set())),
  };
}
