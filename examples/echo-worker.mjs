// A serverless worker for Gantry: answers every routed request with its worker id, the path and the body.
// Run by `gantry create deployment ... --onstart-cmd "exec node $PWD/examples/echo-worker.mjs"` (see README, "Serverless").
import { startWorker } from 'gantry/sdk';

await startWorker({
  // What one worker carries, in load units per second; a real worker measures it (tokens/s, images/s).
  benchmark: async () => 10,
  async handle(req) {
    return { body: { worker: Number(process.env.CONTAINER_ID), path: req.path, body: req.body.toString('utf8') } };
  },
});
