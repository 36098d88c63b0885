import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import { engineFor } from '../../src/runtime/docker/docker-runtime.js';
import { ensureImage } from '../../src/runtime/docker/pull.js';

/**
 * An image pull that stops reporting (a registry that stopped sending mid-layer, an engine that lost the
 * request) held its instance's start for good, and every later start of the instance waits for the one under
 * way: only an agent's restart let it start again. It is given up after `stallMs` without progress.
 */
describe('an image pull that stops reporting', () => {
  for (const [what, answer] of [
    ['one progress line, then nothing', true],
    ['no answer to the pull request at all', false],
  ] as const) {
    it(`is given up after its stall bound: ${what}`, async () => {
      const engine = createServer((req, res) => {
        if (req.method === 'GET' && req.url?.includes('/images/') === true) {
          res.statusCode = 404;
          return void res.end('{"message":"no such image"}');
        }
        if (req.url?.includes('/images/create') === true && answer) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.write('{"status":"Pulling fs layer","id":"a1"}\n');
        }
        // otherwise: never answered
      });
      await new Promise<void>((r) => engine.listen(0, '127.0.0.1', r));
      try {
        const { port } = engine.address() as { port: number };
        const said: string[] = [];
        const pull = ensureImage(engineFor(`tcp://127.0.0.1:${port}`), 'registry.invalid/stuck:1', (m) => said.push(m), 300);
        const outcome = await Promise.race([
          pull.then(
            () => 'pulled',
            (err: Error) => err.message,
          ),
          new Promise<string>((r) => setTimeout(() => r('still pulling'), 10_000).unref()),
        ]);
        assert.equal(outcome, 'image registry.invalid/stuck:1 could not be pulled: no progress for 300 ms');
        assert.deepEqual(said.slice(0, 1), ['pulling image registry.invalid/stuck:1']);
      } finally {
        engine.closeAllConnections();
        engine.close();
      }
    });
  }

  it('is not given up while it reports, however long it takes', async () => {
    let pulled = false;
    const engine = createServer((req, res) => {
      if (req.method === 'GET' && req.url?.includes('/images/') === true) {
        res.statusCode = pulled ? 200 : 404;
        return void res.end(pulled ? '{"Id":"sha256:1"}' : '{"message":"no such image"}');
      }
      if (req.url?.includes('/images/create') === true) {
        res.writeHead(200, { 'content-type': 'application/json' });
        let n = 0;
        const tick = setInterval(() => {
          res.write(`{"status":"Downloading","id":"a1","progressDetail":{"current":${++n},"total":20}}\n`);
          if (n < 20) return;
          clearInterval(tick);
          pulled = true;
          res.end();
        }, 100);
      }
    });
    await new Promise<void>((r) => engine.listen(0, '127.0.0.1', r));
    try {
      const { port } = engine.address() as { port: number };
      // Two seconds of progress, a line every 100 ms, against a bound of a second without any.
      await ensureImage(engineFor(`tcp://127.0.0.1:${port}`), 'registry.invalid/slow:1', () => undefined, 1_000);
      assert.equal(pulled, true);
    } finally {
      engine.closeAllConnections();
      engine.close();
    }
  });
});
