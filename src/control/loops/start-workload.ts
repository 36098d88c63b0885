import { isGantryError } from '../../domain/errors.js';
import type { InstanceRecord } from '../../domain/instance/instance.js';
import type { ControlContext } from '../context.js';
import type { HostLink } from '../hosts/hosts.js';
import { workloadSpec } from '../instances/workload-spec.js';

/**
 * Starts an instance's SSH port is given to at most: each start the host refuses (another program holds the
 * port) costs one round trip to it, and ports reported busy by the host are skipped already, so a port found
 * taken again and again means the host's ports are changing under it; the instance then runs without SSH.
 */
const SSH_PORT_TRIES = 3;

/**
 * Start the instance's workload on its host. While an instance is stopped, any program on its host may take
 * its SSH port (a tenant's workload listening on it, anything else); the host then refuses the start before
 * anything runs (SSH_PORT_TAKEN, `ssh-access.ts` `starting`). Serving the instance on that port would point its
 * users at whatever holds it: the port is taken back and another one given, skipping those found taken and those
 * the host reports busy, and the start is sent again. Past SSH_PORT_TRIES, or with no free port left, it starts
 * without SSH access (no port shown; its next start asks for one again). Answers a note for the instance's
 * status_msg when its port changed or it has none, else null: an instance never runs without SSH unsaid.
 */
export async function startWorkload(ctx: ControlContext, host: HostLink, inst: InstanceRecord): Promise<string | null> {
  let spec = await workloadSpec(ctx, inst);
  const taken: number[] = [];
  for (;;) {
    try {
      await host.start(spec);
      return noteOf(taken, spec.sshPort ?? null);
    } catch (err) {
      const port = spec.sshPort;
      if (!isGantryError(err) || err.code !== 'SSH_PORT_TAKEN' || port === undefined || port === null) throw err;
      taken.push(port);
      await ctx.store.dropSshPort(inst.id, port);
      const busy = new Set([...(host.busyPorts ?? []), ...taken]);
      const next = taken.length < SSH_PORT_TRIES ? await ctx.store.giveSshPort(inst.id, busy) : null;
      ctx.log.warn({ instanceId: inst.id, port, next }, 'SSH port held by another program on the host; the instance gets another');
      spec = { ...spec, sshPort: next };
    }
  }
}

function noteOf(taken: readonly number[], port: number | null): string | null {
  // No port, none found taken: the store had none to give (the range full, or every free port busy on the host).
  if (taken.length === 0) return port === null ? "SSH access unavailable: no port of this host's range could be given; the next start tries again" : null;
  const held = `${taken.length === 1 ? 'port' : 'ports'} ${taken.join(', ')} ${taken.length === 1 ? 'is' : 'are'} held by another program on this host`;
  if (port !== null) return `SSH port changed to ${port}: ${held}`;
  return `SSH access unavailable: ${held}, and no other port could be given; the next start tries again`;
}
