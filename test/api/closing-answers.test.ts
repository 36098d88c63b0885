import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { startTestGantry } from '../helpers/gantry.js';
import { ONE_STORE } from '../helpers/stores.js';

/**
 * A request that reaches the framework after the server began to close (the next one on a connection kept alive
 * past the close's start) is refused in its dialect's shape, with the headers every answer carries, not with
 * fastify's own 503 body.
 */
for (const ts of ONE_STORE) {
  describe(`a request that comes as the server closes (${ts.name})`, { skip: ts.skip }, () => {
    it("is 503 SHUTTING_DOWN in the dialect's shape, nosniff, and the connection closes", async () => {
      const g = await startTestGantry(ts);
      try {
        // The first request is held in its authentication until the close has begun; the second follows it then.
        const authenticate = g.control.authenticate.bind(g.control);
        let inAuth!: () => void;
        const authenticating = new Promise<void>((r) => (inAuth = r));
        let release!: () => void;
        const released = new Promise<void>((r) => (release = r));
        let first = true;
        g.control.authenticate = async (...args: Parameters<typeof authenticate>) => {
          const p = await authenticate(...args);
          if (first) {
            first = false;
            inAuth();
            await released;
          }
          return p;
        };
        const { port } = new URL(g.url);
        const socket = connect(Number(port), '127.0.0.1');
        let text = '';
        socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
        const ended = new Promise<void>((r) => socket.once('close', () => r()));
        const head = (path: string): string => `GET ${path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${g.adminKey ?? ''}\r\n\r\n`;
        socket.write(head('/api/v0/instances/'));
        await authenticating;
        const closed = g.app.close();
        // Sent once the close has begun (Node's server reads a request as it comes, even behind one under way).
        await new Promise((r) => setTimeout(r, 100));
        socket.write(head('/api/v0/instances/'));
        setTimeout(release, 200);
        await ended;
        await closed;
        const answers = text.split(/(?=HTTP\/1\.1 )/);
        assert.equal(answers.length, 2, text);
        assert.match(answers[0] ?? '', /^HTTP\/1\.1 200 /);
        const second = answers[1] ?? '';
        assert.match(second, /^HTTP\/1\.1 503 /);
        assert.match(second, /\r\nx-content-type-options: nosniff\r\n/i);
        assert.match(second, /\r\nconnection: close\r\n/i);
        const body = JSON.parse(second.slice(second.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
        // Vast's error shape (success, error, msg), not fastify's {"error":"Service Unavailable",…}.
        assert.equal(body.success, false, second);
        assert.match(String(body.msg), /shutting down/);
      } finally {
        await g.dispose();
      }
    });
  });
}
