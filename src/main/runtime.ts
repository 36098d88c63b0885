import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { ProcessRuntime } from '../runtime/process/process-runtime.js';
import type { Runtime } from '../runtime/runtime.js';

/** `--runtime`: docker (Docker Engine API, also Podman's), process, or auto: docker when an engine answers. */
export async function openRuntime(c: Config, o: { log: Logger; workloadEnv: Readonly<Record<string, string>> }): Promise<Runtime> {
  const root = join(c.dataDir, 'instances');
  return ProcessRuntime.open({ root, killWaitMs: c.killWaitMs, pollMs: 50, baseEnv: o.workloadEnv });
}
