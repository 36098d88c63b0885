/**
 * HTTP/1.1 message heads read straight from socket bytes, for the proxy's wire path
 * ([decision 024](../../docs/decisions/024-wire-data-path.md)). Strict on purpose: whatever is not a plain,
 * unambiguous HTTP/1.1 message (no transfer coding on requests, one content-length, no folded or odd
 * header lines, no upgrade or expect) is answered `null`, and the caller hands the bytes to Node's own
 * HTTP server, which serves or refuses them in full. A head read here never means two things.
 */
import { DROPPED_ANSWER_HEADERS, WORKER_ANSWER_LINES } from './worker-answer-headers.js';

/** Node's default limit for a request head; a longer one goes to Node's server, which answers 431. */
export const MAX_HEAD_BYTES = 16 * 1024;

/** Token characters (RFC 9110 tchar) by code: a header name is made of these only. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 48; c < 58; c++) TCHAR[c] = 1;
for (let c = 65; c < 91; c++) TCHAR[c] = TCHAR[c + 32] = 1;
/** A request target the wire path takes: origin-form, visible ASCII only. */
const TARGET = /^\/[\x21-\x7e]*$/;
const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/** Request headers that describe one hop or are Gantry's to set; never forwarded as sent. */
const NOT_FORWARDED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'host',
  'authorization',
  'content-length',
  'x-gantry-url',
  'x-gantry-signature',
  'x-gantry-reqnum',
  'x-gantry-cost',
  'x-gantry-endpoint',
]);
/** Answer headers of one hop (the wire path frames the answer to its caller itself), and a worker's that are never passed on. */
const NOT_RETURNED = new Set(['connection', 'keep-alive', 'proxy-connection', 'upgrade', ...DROPPED_ANSWER_HEADERS]);

export interface RequestHead {
  readonly method: string;
  readonly target: string;
  /** Bytes of the head, the blank line included. */
  readonly headBytes: number;
  /** The content-length sent, or -1 when none was (then the request has no body). */
  readonly contentLength: number;
  readonly authorization: string | null;
  readonly cost: string | null;
  /** The caller asked to close the connection after this answer. */
  readonly close: boolean;
  /** The headers to pass on, as `name: value\r\n` lines. */
  readonly forward: string;
}

/**
 * The field line just read by `readField`: its name as sent, lowercased, and its value. Module state
 * rather than an object per line: heads are read synchronously, one at a time, at proxy rates.
 */
let fieldName = '';
let fieldLower = '';
let fieldValue = '';

/** The header line `s[from, to)` into the field above; false when it is not a valid field line. */
function readField(s: string, from: number, to: number): boolean {
  const colon = s.indexOf(':', from);
  if (colon <= from || colon >= to) return false;
  for (let i = from; i < colon; i++) if (TCHAR[s.charCodeAt(i)] !== 1) return false;
  // Only spaces and tabs are whitespace around a value (String.trim would take \v, \f, NBSP and CR too).
  let a = colon + 1;
  let b = to;
  while (a < b && isOws(s.charCodeAt(a))) a++;
  while (b > a && isOws(s.charCodeAt(b - 1))) b--;
  // Control characters other than tab, and DEL, are never in a value.
  for (let i = a; i < b; i++) {
    const c = s.charCodeAt(i);
    if ((c < 32 && c !== 9) || c === 127) return false;
  }
  fieldName = s.slice(from, colon);
  fieldLower = fieldName.toLowerCase();
  fieldValue = s.slice(a, b);
  return true;
}

const isOws = (c: number): boolean => c === 32 || c === 9;

/**
 * The content-length just read (its line ends at `to`), or -1 when it is not plain digits. Node's parser
 * refuses a length followed by a tab (it takes spaces): so does this one, so that what the wire path takes
 * Node would take too.
 */
function lengthOf(s: string, to: number): number {
  if (!/^\d{1,15}$/.test(fieldValue)) return -1;
  for (let i = to - 1; i >= 0 && isOws(s.charCodeAt(i)); i--) if (s.charCodeAt(i) === 9) return -1;
  return Number(fieldValue);
}

/** Where the line that starts at `from` in a head without its blank line ends. */
function lineEnd(s: string, from: number): number {
  const e = s.indexOf('\r\n', from);
  return e < 0 ? s.length : e;
}

/**
 * The request head at the start of `buf`: 'incomplete' while its blank line has not arrived (and it is
 * still under MAX_HEAD_BYTES), null for anything the wire path does not take.
 */
export function readRequestHead(buf: Buffer): RequestHead | 'incomplete' | null {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return buf.length > MAX_HEAD_BYTES ? null : 'incomplete';
  if (end + 4 > MAX_HEAD_BYTES) return null;
  const text = buf.toString('latin1', 0, end);
  const first = lineEnd(text, 0);
  const sp1 = text.indexOf(' ');
  const sp2 = sp1 < 0 ? -1 : text.indexOf(' ', sp1 + 1);
  if (sp1 < 0 || sp2 < 0 || sp2 >= first || text.slice(sp2 + 1, first) !== 'HTTP/1.1') return null;
  const method = text.slice(0, sp1);
  const target = text.slice(sp1 + 1, sp2);
  if (!METHODS.has(method) || !TARGET.test(target)) return null;
  let contentLength = -1;
  let authorization: string | null = null;
  let cost: string | null = null;
  let hosts = 0;
  let close = false;
  let forward = '';
  for (let at = first + 2; at < text.length;) {
    const to = lineEnd(text, at);
    if (!readField(text, at, to)) return null;
    at = to + 2;
    switch (fieldLower) {
      case 'content-length':
        if (contentLength >= 0) return null;
        contentLength = lengthOf(text, to);
        if (contentLength < 0) return null;
        continue;
      case 'transfer-encoding':
      case 'upgrade':
      case 'expect':
        return null;
      case 'host':
        hosts++;
        continue;
      case 'authorization':
        if (authorization !== null) return null;
        authorization = fieldValue;
        continue;
      case 'x-gantry-cost':
        if (cost !== null) return null;
        cost = fieldValue;
        continue;
      case 'connection': {
        const opts = fieldValue.toLowerCase();
        if (opts.includes('upgrade')) return null;
        if (opts.includes('close')) close = true;
        continue;
      }
    }
    if (!NOT_FORWARDED.has(fieldLower)) forward += `${fieldName}: ${fieldValue}\r\n`;
  }
  if (hosts !== 1) return null;
  return { method, target, headBytes: end + 4, contentLength, authorization, cost, close, forward };
}

/** How an answer's body ends. */
export type Framing = { readonly kind: 'length'; readonly bytes: number } | { readonly kind: 'chunked' } | { readonly kind: 'close' };

export interface ResponseHead {
  readonly status: number;
  /** Bytes of the head, the blank line included. */
  readonly headBytes: number;
  readonly framing: Framing;
  /** The worker will close this connection after the answer. */
  readonly close: boolean;
  /** The head for the caller: the status line and the headers it gets (hop headers dropped, WORKER_ANSWER_HEADERS added), without the blank line. */
  readonly head: string;
}

/** An answer head at `buf[from…]`: 'incomplete' until its blank line arrived, null when it is not valid HTTP/1.x. */
export function readResponseHead(buf: Buffer, from = 0): ResponseHead | 'incomplete' | null {
  const end = buf.indexOf('\r\n\r\n', from);
  if (end < 0) return buf.length - from > MAX_HEAD_BYTES ? null : 'incomplete';
  const text = buf.toString('latin1', from, end);
  const first = lineEnd(text, 0);
  const m = /^HTTP\/1\.([01]) (\d{3})(?: ([^\r\n]*))?$/.exec(text.slice(0, first));
  if (m === null) return null;
  const status = Number(m[2]);
  let close = m[1] === '0';
  let length = -1;
  let chunked = false;
  let head = `HTTP/1.1 ${status} ${m[3] ?? ''}`;
  for (let at = first + 2; at < text.length;) {
    const to = lineEnd(text, at);
    if (!readField(text, at, to)) return null;
    at = to + 2;
    if (fieldLower === 'content-length') {
      if (length >= 0) return null;
      length = lengthOf(text, to);
      if (length < 0) return null;
    } else if (fieldLower === 'transfer-encoding') {
      if (fieldValue.toLowerCase() !== 'chunked') return null;
      chunked = true;
    } else if (fieldLower === 'connection') {
      const opts = fieldValue.toLowerCase();
      if (opts.includes('close')) close = true;
      else if (m[1] === '0' && opts.includes('keep-alive')) close = false;
      continue;
    }
    if (!NOT_RETURNED.has(fieldLower)) head += `\r\n${fieldName}: ${fieldValue}`;
  }
  if (chunked && length >= 0) return null; // both: a smuggling shape, never passed on
  const bodiless = status === 204 || status === 304 || status < 200;
  const framing: Framing = bodiless
    ? { kind: 'length', bytes: 0 }
    : chunked
      ? { kind: 'chunked' }
      : length >= 0
        ? { kind: 'length', bytes: length }
        : { kind: 'close' };
  return { status, headBytes: end + 4 - from, framing, close, head: head + WORKER_ANSWER_LINES };
}

/**
 * Finds where a chunked body ends as its bytes arrive (the bytes themselves are passed on unchanged).
 * `feed` answers the offset in the chunk just past the body's end, -1 while it goes on, or -2 when the
 * framing is broken.
 */
export class ChunkedEnd {
  /** size: reading a chunk-size line; data: inside a chunk; crlf: after a chunk's data; trailer: after the last chunk. */
  #state: 'size' | 'data' | 'crlf' | 'trailer' = 'size';
  #line = '';
  #left = 0;

  feed(buf: Buffer, from = 0): number {
    let i = from;
    while (i < buf.length) {
      if (this.#state === 'data') {
        const take = Math.min(this.#left, buf.length - i);
        i += take;
        this.#left -= take;
        if (this.#left === 0) this.#state = 'crlf';
        continue;
      }
      const nl = buf.indexOf(10, i);
      const part = buf.toString('latin1', i, nl < 0 ? buf.length : nl + 1);
      i = nl < 0 ? buf.length : nl + 1;
      this.#line += part;
      if (this.#line.length > 4096) return -2;
      if (nl < 0) continue;
      const line = this.#line;
      this.#line = '';
      if (!line.endsWith('\r\n')) return -2;
      if (this.#state === 'crlf') {
        if (line !== '\r\n') return -2;
        this.#state = 'size';
      } else if (this.#state === 'size') {
        const m = /^([0-9a-fA-F]{1,12})(?:;[^\r\n]*)?\r\n$/.exec(line);
        if (m === null) return -2;
        this.#left = parseInt(m[1] as string, 16);
        this.#state = this.#left === 0 ? 'trailer' : 'data';
      } else if (line === '\r\n') {
        return i; // the blank line after the last chunk (and its trailers)
      }
    }
    return -1;
  }
}
