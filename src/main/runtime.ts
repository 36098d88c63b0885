import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { DockerRuntime } from '../runtime/docker/docker-runtime.js';
import { ProcessRuntime } from '../runtime/process/process-runtime.js';
import type { Runtime } from '../runtime/runtime.js';

/**
 * `--runtime`: docker (Docker Engine API, also Podman's), process, or auto: docker when an engine answers at
 * DOCKER_HOST (else the default socket), process otherwise. `nvidiaGpus`: real GPUs go to containers as device requests.
 */
export async function openRuntime(c: Config, o: { log: Logger; workloadEnv: Readonly<Record<string, string>>; nvidiaGpus: boolean }): Promise<Runtime> {
  const root = join(c.dataDir, 'instances');
  const docker = c.runtime === 'docker' || (c.runtime === 'auto' && (await DockerRuntime.probe(c.dockerHost)));
  if (docker) {
    try {
      return await DockerRuntime.open({ root, dockerHost: c.dockerHost, killWaitMs: c.killWaitMs, pollMs: 100, nvidiaGpus: o.nvidiaGpus });
    } catch (err) {
      throw new Error(`no container engine answers at ${c.dockerHost ?? 'unix:///var/run/docker.sock'} (${err instanceof Error ? err.message : String(err)})`);
    }
  }
  if (c.runtime === 'auto') o.log.info('no container engine found; running workloads as process groups');
  return ProcessRuntime.open({ root, killWaitMs: c.killWaitMs, pollMs: 50, baseEnv: o.workloadEnv });
}
