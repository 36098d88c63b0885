import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import { GantryError } from '../../domain/errors.js';
import type { ApiDialect } from './dialect.js';
import { dialectFor, renderError } from './mount.js';

/** The last request whose head each connection carried (a connection carries one at a time), and its answer. */
const lastRequest = new WeakMap<object, { readonly req: IncomingMessage; readonly res: ServerResponse }>();

/**
 * Remember the request a connection carries. A body cut short (fewer bytes than its Content-Length,
 * then the end of the stream) is refused by Node's parser after the head was read in an earlier packet,
 * so the bytes it hands `clientError` hold no request line: the path that picks the dialect's error
 * shape comes from here instead. Its answer is kept too: one already begun (a 401 sent before the body
 * was read) leaves no room on the connection for a second.
 */
export function noteRequest(req: IncomingMessage, res: ServerResponse): void {
  if (req.socket !== null) lastRequest.set(req.socket, { req, res });
}

/** What Node's HTTP parser hands the `clientError` event: its code, and the bytes it could not take. */
type ParserError = Error & { code?: string; rawPacket?: unknown };

/**
 * The answer to a request Node's HTTP parser refused before any route saw it (a head over the size
 * limit, a malformed request line or header, a request that took too long to arrive), in the error
 * shape of the dialect whose prefix its path falls under — a client of that API reads the error as it
 * reads every other. The path is read from the bytes the parser refused, which hold the request line
 * when it came in the same read (the usual case), or from the request the connection is carrying (a
 * body cut short: see noteRequest); otherwise (a head sent in pieces, a timeout) the first
 * dialect's shape is used. The connection is closed afterwards, as Node does: its framing cannot
 * be trusted.
 */
export function clientErrorHandler(dialects: readonly ApiDialect[], log: FastifyBaseLogger): (err: ParserError, socket: Duplex) => void {
  return (err, socket) => {
    // A reset or a closed socket has no one left to answer.
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    // A request whose head was parsed and whose body then broke off: a malformed body, answered as
    // each dialect answers one (Elasticsearch: 400 x_content_parse_exception), on that request's path.
    const carried = lastRequest.get(socket);
    // An answer already begun on this connection (the request was answered before its body arrived, or one
    // is still being written): a second would be read as part of it, or as the answer to a request never
    // sent. As Node's own handler, write nothing then: end a finished answer's connection, cut one mid-answer.
    if (carried !== undefined && carried.res.headersSent && (!carried.req.complete || !carried.res.writableFinished)) {
      if (!carried.res.writableFinished) return void socket.destroy();
      socket.end();
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    const last = carried?.req;
    const inBody = last !== undefined && !last.complete ? { method: last.method ?? 'GET', target: last.url ?? '/' } : undefined;
    const message =
      status === 431
        ? 'The request headers are larger than this server accepts.'
        : status === 408
          ? 'The request did not arrive in time.'
          : inBody !== undefined
            ? 'The request body is not well-formed: it ended before the length its Content-Length header gave, or its chunked encoding is broken.'
            : 'The request is not well-formed HTTP/1.1.';
    const { method, target } = inBody ?? requestLine(err.rawPacket);
    const d = dialectFor(dialects, target.split('?')[0] ?? '/');
    if (socket.writable) {
      let head: string;
      let body: string;
      let code = status;
      if (d === undefined) {
        head = 'content-type: application/json\r\nx-content-type-options: nosniff\r\n';
        body = JSON.stringify({ error: { code: 'INVALID_ARGUMENT', message } });
      } else {
        const id = `client-${randomUUID()}`;
        // A malformed request is the client's business, not news for the server's log (fastify logs these at trace).
        const quiet = log.child({ reqId: id }, { level: 'warn' });
        const refused = status === 400 && inBody !== undefined ? new GantryError('INVALID_JSON', message) : { statusCode: status, message, code: err.code };
        const r = renderError(d, refused, { id, url: target, method }, quiet);
        head = Object.entries(r.headers)
          .flatMap(([k, v]) => (typeof v === 'string' ? [v] : v).map((one) => `${k}: ${one}\r\n`))
          .join('');
        body = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
        code = r.status;
      }
      socket.end(`HTTP/1.1 ${code} ${STATUS_CODES[code] ?? ''}\r\n${head}content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    }
    // Bounded: a peer that does not read the answer does not keep the socket.
    setTimeout(() => socket.destroy(), 1000).unref();
  };
}

/** The method and target of the request line, as far as they arrived; `/` when they did not. */
function requestLine(raw: unknown): { method: string; target: string } {
  const text = Buffer.isBuffer(raw) ? raw.subarray(0, 8192).toString('latin1') : '';
  const m = /^([A-Z]{1,16}) (\S{1,8000})/.exec(text);
  return m === null ? { method: 'GET', target: '/' } : { method: m[1] ?? 'GET', target: m[2] ?? '/' };
}
