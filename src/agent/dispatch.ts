import type { AgentCommand } from '../control/hosts/agent-session.js';
import { newestWithin } from '../runtime/log-lines.js';
import type { Runtime } from '../runtime/runtime.js';

/** Log lines in one result stay well under the control plane's 1 MiB body limit (results travel in batches). */
const MAX_LOG_LINES_BYTES = 512 * 1024;

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
    case 'logLines':
      return newestWithin(await rt.logLines(c.instanceId, c.query), MAX_LOG_LINES_BYTES);
    case 'list':
      return rt.list();
    case 'storage':
      if (rt.storage === undefined) throw new Error(`the ${rt.name} runtime keeps no volumes or snapshots`);
      return rt.storage(c.cmd);
  }
}
