import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { inferenceWorkerEnv } from '../config/inference-env.js';
import { createLogger } from '../log/logger.js';

/** `gantry inference-worker`: the workload of one allocation of an Elasticsearch trained-model deployment. */
export function registerInferenceWorker(program: Command): void {
  program
    .command('inference-worker')
    .description(
      'serve one allocation of a trained model (run by the engine: reads REPORT_ADDR, MASTER_TOKEN, CONTAINER_ID, WORKER_PORT, GANTRY_THREADS, GANTRY_INFERENCE_DELAY_MS)',
    )
    .action(async () => {
      const env = inferenceWorkerEnv();
      const log = createLogger(env.logLevel).child({ workerId: env.workerId, ...(env.modelId !== null ? { expectedModel: env.modelId } : {}) });
      try {
        ownTempFolder();
        // Loaded here, not with the CLI: onnxruntime's native library is for inference workers only,
        // not for every `gantry` command (`gantry up` included).
        const { startInferenceWorker } = await import('../inference/worker.js');
        await startInferenceWorker({ ...env, log });
      } catch (err) {
        log.error({ err }, 'inference worker could not start');
        throw err;
      }
    });
}

/**
 * The worker's temporary files in its own folder (`.tmp` in its working folder, the instance's disk), before
 * onnxruntime loads: its native library opens a log file (`mat-debug-<pid>.log`, empty) in the temporary folder
 * of every process that loads it, which left one in the host's /tmp per worker start. Removed with the instance.
 */
export function ownTempFolder(cwd = process.cwd()): string {
  const tmp = join(cwd, '.tmp');
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  process.env.TMPDIR = tmp;
  return tmp;
}
