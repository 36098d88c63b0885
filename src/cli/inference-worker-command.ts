import type { Command } from 'commander';
import { inferenceWorkerEnv, ownTempFolder } from '../config/inference-env.js';
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
