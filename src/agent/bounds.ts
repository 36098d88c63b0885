import type { AgentResult } from '../control/hosts/agent-session.js';

/** Bounds of one results message, well inside what the control plane takes (messages.ts, the body limit). */
const RESULTS_PER_MESSAGE = 200;
const RESULT_BYTES_PER_MESSAGE = 256 * 1024;

export { within } from '../runtime/within.js';

/**
 * How many queued results go in the next message. The control plane takes at most 1,000 results and
 * 1 MiB in one (a larger one is refused whole), and a wait it asked for lets results pile up: a long
 * queue goes in parts, each with at least one result.
 */
export function firstBatch(results: readonly AgentResult[]): number {
  let bytes = 0;
  for (let i = 0; i < results.length; i++) {
    bytes += Buffer.byteLength(JSON.stringify(results[i]));
    if (i > 0 && (i >= RESULTS_PER_MESSAGE || bytes > RESULT_BYTES_PER_MESSAGE)) return i;
  }
  return results.length;
}
