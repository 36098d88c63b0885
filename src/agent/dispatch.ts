import type { AgentCommand } from '../control/hosts/agent-session.js';
import type { Runtime } from '../runtime/runtime.js';

/** Carry out one command of the control plane on this host's runtime; the value goes back as the result. */
export async function dispatch(rt: Runtime, c: AgentCommand): Promise<unknown> {
  switch (c.op) {
    case 'start':
      await rt.start(c.spec);
      return null;
    case 'inspect':
      return rt.inspect(c.instanceId);
    case 'stop':
      return rt.stop(c.instanceId, { graceMs: c.graceMs });
    case 'destroy':
      return rt.destroy(c.instanceId, { graceMs: c.graceMs });
    case 'wipeDisk':
      await rt.wipeDisk(c.instanceId);
      return null;
    case 'setSshKeys':
      await rt.setSshKeys(c.instanceId, c.keys);
      return null;
    case 'logs':
      return rt.logs(c.instanceId, c.tail);
    case 'list':
      return rt.list();
  }
}
