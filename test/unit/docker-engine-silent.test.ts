import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DockerRuntime } from '../../src/runtime/docker/docker-runtime.js';
import { LABEL_INSTANCE } from '../../src/runtime/docker/labelled.js';
import { until } from '../helpers/serverless.js';

/** A stand-in engine over HTTP: `answer` decides, per request, to answer it or to keep it waiting for good. */
async function engine(answer: (req: IncomingMessage, res: ServerResponse) => boolean): Promise<{ server: Server; host: string }> {
  const server = createServer((req, res) => {
    if (!answer(req, res)) return; // taken, never answered
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, host: `tcp://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** An engine that took a request and never answered held the agent's start, or its container-death hints, for good. */
describe('a container engine that does not answer', () => {
  let root: string;
  const servers: Server[] = [];
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'gantry-engine-'));
  });
  after(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
    await rm(root, { recursive: true, force: true });
  });

  it("fails the runtime's open after the read bound, saying so", { timeout: 15_000 }, async () => {
    const e = await engine(() => false);
    servers.push(e.server);
    await assert.rejects(
      DockerRuntime.open({ root: join(root, 'a'), dockerHost: e.host, killWaitMs: 1000, pollMs: 50, nvidiaGpus: false, readTimeoutMs: 1_000 }),
      /no answer within 1s/,
    );
  });

  it('is asked for its events again when it leaves the subscription unanswered, and its deaths then reach the listeners', { timeout: 20_000 }, async () => {
    let asked = 0;
    const e = await engine((req, res) => {
      if (req.url?.startsWith('/_ping') === true) {
        res.end('OK');
        return true;
      }
      if (req.url?.includes('/events') !== true) {
        res.writeHead(404).end();
        return true;
      }
      if (++asked === 1) return false;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`${JSON.stringify({ Type: 'container', Action: 'die', Actor: { Attributes: { [LABEL_INSTANCE]: '5' } } })}\n`);
      return true;
    });
    servers.push(e.server);
    const rt = await DockerRuntime.open({ root: join(root, 'b'), dockerHost: e.host, killWaitMs: 1000, pollMs: 50, nvidiaGpus: false, readTimeoutMs: 1_000 });
    const died: number[] = [];
    rt.onExit((id) => died.push(id));
    try {
      await until('a death heard on the second subscription', async () => died.includes(5), 15_000);
      assert.equal(asked, 2);
    } finally {
      await rt.close();
    }
  });

  it("stops an instance's stray container again at a later listing when the engine never answered the last stop", { timeout: 20_000 }, async () => {
    let stops = 0;
    const e = await engine((req, res) => {
      const url = req.url ?? '';
      if (url.startsWith('/_ping')) res.end('OK');
      else if (url.includes('/events')) res.writeHead(200, { 'content-type': 'application/json' }).write('');
      else if (url.startsWith('/containers/json')) {
        // A container made by hand, labelled as instance 7, running.
        const stray = { Id: 'byhand', Names: ['/by-hand'], State: 'running', Labels: { [LABEL_INSTANCE]: '7' } };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([stray]));
      } else if (url.startsWith('/containers/byhand/json')) res.writeHead(200, { 'content-type': 'application/json' }).end('{"State":{"Paused":false}}');
      else if (url.startsWith('/containers/byhand/stop')) {
        stops++;
        return false;
      } else res.writeHead(404).end();
      return true;
    });
    servers.push(e.server);
    const rt = await DockerRuntime.open({
      root: join(root, 'c'),
      dockerHost: e.host,
      killWaitMs: 1000,
      pollMs: 50,
      nvidiaGpus: false,
      readTimeoutMs: 1_000,
      strayGraceMs: 1_000,
    });
    try {
      assert.deepEqual(await rt.list(), [7]);
      await until('the stray asked to stop', async () => stops === 1, 5_000);
      await rt.list();
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(stops, 1, 'not asked twice while the first may still be answered');
      // Past the stop's grace and the read bound, the next listing asks again (before: never, for good).
      await until(
        'the stray asked to stop again',
        async () => {
          await rt.list();
          return stops === 2;
        },
        10_000,
      );
    } finally {
      await rt.close();
    }
  });
});
