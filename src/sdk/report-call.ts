import { request as httpRequest, type IncomingMessage } from 'node:http';

/**
 * One small call to the engine's report address (the public key, a load report) through `node:http`,
 * which the worker has loaded already for its own server. `fetch` would load undici first: tens of
 * milliseconds on a worker's first report, which a start from zero waits for. https (a report address
 * behind TLS) loads `node:https` then. Redirects are not followed: the address is the engine's own.
 * `timeoutMs` bounds the whole call, an answer that trickles in included.
 */
export async function reportCall(url: string, o: { json?: unknown; timeoutMs: number }): Promise<{ status: number; text: string }> {
  const u = new URL(url);
  const request = u.protocol === 'https:' ? (await import('node:https')).request : httpRequest;
  const body = o.json === undefined ? null : JSON.stringify(o.json);
  return new Promise((resolve, reject) => {
    const req = request(u, {
      method: body === null ? 'GET' : 'POST',
      headers: body === null ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    const deadline = setTimeout(() => req.destroy(new Error(`no answer from ${u.origin} within ${o.timeoutMs} ms`)), o.timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(deadline);
      reject(err);
    };
    req.once('error', fail);
    req.once('response', (res: IncomingMessage) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.once('error', fail);
      res.once('end', () => {
        clearTimeout(deadline);
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') });
      });
    });
    req.end(body ?? undefined);
  });
}
