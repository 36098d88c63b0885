import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DockerRuntime } from '../../src/runtime/docker/docker-runtime.js';

/**
 * The docker runtime watches the engine's container events from its start; an engine that answers that
 * request only after the runtime closed (a slow engine, a close right after the start) handed it a stream
 * nothing would end: its connection stayed open and its exits went on being told to a closed runtime.
 */
describe('the docker runtime closed before the engine answers its events request', () => {
  it('ends the events stream the engine answers afterwards', async () => {
    let events!: (res: ServerResponse) => void;
    const asked = new Promise<ServerResponse>((r) => (events = r));
    // An engine with the two routes a runtime's start uses: a ping, and events answered when the test says.
    const engine = createServer((req, res) => {
      if (req.url?.includes('/_ping') === true) return void res.end('OK');
      if (req.url?.includes('/events') === true) return events(res);
      res.statusCode = 404;
      res.end('{}');
    });
    await new Promise<void>((r) => engine.listen(0, '127.0.0.1', r));
    const root = await mkdtemp(join(tmpdir(), 'gantry-docker-events-'));
    try {
      const { port } = engine.address() as { port: number };
      const rt = await DockerRuntime.open({ root, dockerHost: `tcp://127.0.0.1:${port}`, killWaitMs: 1000, pollMs: 50, nvidiaGpus: false });
      const res = await asked;
      await rt.close();
      const closed = new Promise<void>((r) => res.once('close', r));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('');
      const ended = await Promise.race([closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
      assert.equal(ended, true, 'the runtime ended the stream it got after its close');
    } finally {
      engine.closeAllConnections();
      engine.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});
