import { request as httpRequest, type IncomingMessage } from 'node:http';

/**
 * One small call to the engine's report address (the public key, a load report) through `node:http`,
 * which the worker has loaded already for its own server. `fetch` would load undici first: tens of
 * milliseconds on a worker's first report, which a start from zero waits for. https (a report address
 * behind TLS) loads `node:https` then.
 */
export async function reportCall(url: string, o: { method?: string; json?: unknown; timeoutMs?: number } = {}): Promise<{ status: number; text: string }> {
  const u = new URL(url);
  const request = u.protocol === 'https:' ? (await import('node:https')).request : httpRequest;
  const body = o.json === undefined ? null : JSON.stringify(o.json);
  return new Promise((resolve, reject) => {
    const req = request(u, {
      method: o.method ?? (body === null ? 'GET' : 'POST'),
      headers: body === null ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      timeout: o.timeoutMs ?? 10_000,
    });
    req.once('timeout', () => req.destroy(new Error(`no answer from ${u.origin} within ${o.timeoutMs ?? 10_000} ms`)));
    req.once('error', reject);
    req.once('response', (res: IncomingMessage) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.once('error', reject);
      res.once('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }));
    });
    req.end(body ?? undefined);
  });
}
