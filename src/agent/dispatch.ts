import type { AgentCommand } from '../control/hosts/agent-session.js';
import { MAX_LOG_BYTES, newestText, newestWithin } from '../runtime/log-lines.js';
import type { Runtime } from '../runtime/runtime.js';
import type { SshAccess } from './ssh-access.js';

/** Carry out one command of the control plane on this host's runtime; the value goes back as the result. SSH access follows the workload. */
export async function dispatch(rt: Runtime, c: AgentCommand, ssh?: SshAccess): Promise<unknown> {
  switch (c.op) {
    case 'start': {
      // SSH access first: a start whose SSH port another program holds runs nothing (ssh-access.ts `starting`).
      const listening = (await ssh?.starting(c.spec)) === true;
      try {
        await rt.start(c.spec);
      } catch (err) {
        if (listening) await ssh?.stopped(c.spec.instanceId);
        throw err;
      }
      return null;
    }
    case 'inspect':
      return rt.inspect(c.instanceId);
    case 'stop': {
      await ssh?.stopped(c.instanceId);
      return rt.stop(c.instanceId, { graceMs: c.graceMs });
    }
    case 'destroy':
      await ssh?.destroyed(c.instanceId);
      return rt.destroy(c.instanceId, { graceMs: c.graceMs });
    case 'wipeDisk':
      await rt.wipeDisk(c.instanceId);
      return null;
    case 'setSshKeys':
      await rt.setSshKeys(c.instanceId, c.keys);
      await ssh?.keysChanged(c.instanceId, c.keys);
      return null;
    case 'exec':
      if (ssh === undefined) throw new Error('this host has no SSH access to instances');
      return ssh.run(c.instanceId, c.argv, { timeoutMs: c.timeoutMs, maxBytes: c.maxBytes });
    case 'copy':
      if (ssh === undefined) throw new Error('this host has no SSH access to instances, so no copies between them');
      return ssh.copy(c.order);
    case 'copyGrant':
      if (ssh === undefined) throw new Error('this host has no SSH access to instances, so no copies into them');
      return ssh.grantCopy(c.instanceId, c.ttlMs);
    case 'cancelCopies':
      return ssh?.cancelCopies(c.instanceId) ?? 0;
    case 'logs':
      return newestText(await rt.logs(c.instanceId, c.tail), MAX_LOG_BYTES);
    case 'logLines':
      return newestWithin(await rt.logLines(c.instanceId, c.query), MAX_LOG_BYTES);
    case 'list':
      return c.observe === true ? observeAll(rt) : rt.list();
    case 'storage':
      if (rt.storage === undefined) throw new Error(`the ${rt.name} runtime keeps no volumes or snapshots`);
      return rt.storage(c.cmd);
  }
}

/**
 * Every workload with what `inspect` says of it, for the control plane's host sweep (decision 017), asked for
 * with `list` or pushed with heartbeats (decision 021). A
 * workload that cannot be inspected is listed by its bare id, which tells the control plane to look at
 * this host's instances one by one (as it does for agents that predate the sweep).
 */
export async function observeAll(rt: Runtime): Promise<unknown[]> {
  const ids = await rt.list();
  return Promise.all(
    ids.map((id) =>
      rt.inspect(id).then(
        (obs) => ({ id, ...obs }),
        () => id,
      ),
    ),
  );
}
