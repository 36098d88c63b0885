import { GantryError } from '../../domain/errors.js';

/**
 * A small streaming reader of `multipart/form-data` (RFC 7578), for uploads too large to hold in
 * memory: parts are read one after the other, a part's data as it arrives. Only what the edge needs:
 * no nested multipart, no transfer encodings (clients send binary as is). Every byte read counts
 * against `maxBytes`, so a body over the cap fails at that byte, whatever its Content-Length said.
 */
export interface MultipartPart {
  readonly name: string;
  readonly filename: string | null;
  readonly contentType: string | null;
}

export interface MultipartLimits {
  /** The most bytes of body read; beyond: UPLOAD_TOO_LARGE. */
  readonly maxBytes: number;
  /** Longest header block of one part (default 16 KiB). */
  readonly maxHeaderBytes?: number;
  /** Most bytes before the first boundary line (default 16 KiB; clients send none). */
  readonly maxPreambleBytes?: number;
}

const malformed = (why: string): GantryError => new GantryError('INVALID_MULTIPART', `The body is not a well-formed multipart/form-data form: ${why}.`);

/** The boundary of a `multipart/form-data` content type; INVALID_MULTIPART for any other type. */
export function multipartBoundary(contentType: string | undefined): string {
  const ct = contentType ?? '';
  if (!/^multipart\/form-data\s*(;|$)/i.test(ct)) throw malformed(`Content-Type is ${JSON.stringify(ct.slice(0, 100))}, not multipart/form-data`);
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^;\s"]{1,70}))/i.exec(ct);
  const b = m?.[1] ?? m?.[2];
  if (b === undefined) throw malformed('Content-Type names no boundary');
  return b;
}

function param(header: string, name: string): string | null {
  const m = new RegExp(`;\\s*${name}=(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]*))`, 'i').exec(header);
  if (m === null) return null;
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? null);
}

/** Where the reader is: before the first boundary, just after a boundary, inside a part's data, after the closing one. */
type State = 'preamble' | 'delimiter' | 'body' | 'end';

export class MultipartReader {
  readonly #source: AsyncIterator<Uint8Array>;
  readonly #delimiter: Buffer;
  readonly #limits: Required<MultipartLimits>;
  // The preamble's delimiter may open the body without the CRLF before it: pretend one was there.
  #buf: Buffer = Buffer.from('\r\n');
  #ended = false;
  #read = 0;
  #state: State = 'preamble';

  constructor(source: AsyncIterable<Uint8Array>, boundary: string, limits: MultipartLimits) {
    this.#source = source[Symbol.asyncIterator]();
    this.#delimiter = Buffer.from(`\r\n--${boundary}`);
    this.#limits = { maxHeaderBytes: 16 * 1024, maxPreambleBytes: 16 * 1024, ...limits };
  }

  /** How many body bytes were read so far. */
  get bytesRead(): number {
    return this.#read;
  }

  /** Read one more chunk into the buffer; false at the end of the body. */
  async #fill(): Promise<boolean> {
    if (this.#ended) return false;
    const r = await this.#source.next();
    if (r.done === true) {
      this.#ended = true;
      return false;
    }
    this.#read += r.value.byteLength;
    if (this.#read > this.#limits.maxBytes)
      throw new GantryError('UPLOAD_TOO_LARGE', `The upload is larger than ${this.#limits.maxBytes} bytes; nothing was stored.`, {
        maxBytes: this.#limits.maxBytes,
      });
    this.#buf = this.#buf.length === 0 ? Buffer.from(r.value) : Buffer.concat([this.#buf, r.value]);
    return true;
  }

  /** The next part's headers (the rest of the current part is skipped), or null after the closing delimiter. */
  async next(): Promise<MultipartPart | null> {
    if (this.#state === 'body') for await (const _ of this.data()) void _;
    if (this.#state === 'preamble') {
      for (;;) {
        const i = this.#buf.indexOf(this.#delimiter);
        if (i >= 0) {
          this.#buf = this.#buf.subarray(i + this.#delimiter.length);
          break;
        }
        // Keep what may be the start of a delimiter split across chunks.
        this.#buf = this.#buf.subarray(Math.max(0, this.#buf.length - this.#delimiter.length + 1));
        if (this.#read > this.#limits.maxPreambleBytes) throw malformed(`no boundary line in its first ${this.#limits.maxPreambleBytes} bytes`);
        if (!(await this.#fill())) throw malformed('no boundary line');
      }
      this.#state = 'delimiter';
    }
    if (this.#state === 'end') return null;
    // After a delimiter: `--` closes the form, else optional whitespace and CRLF open a part.
    while (this.#buf.length < 2) if (!(await this.#fill())) throw malformed('it ends after a boundary');
    if (this.#buf[0] === 0x2d && this.#buf[1] === 0x2d) {
      this.#state = 'end';
      return null;
    }
    let headerEnd: number;
    for (;;) {
      headerEnd = this.#buf.indexOf('\r\n\r\n');
      if (headerEnd >= 0) break;
      if (this.#buf.length > this.#limits.maxHeaderBytes) throw malformed('a part header is too long');
      if (!(await this.#fill())) throw malformed('it ends inside a part header');
    }
    const lines = this.#buf.subarray(0, headerEnd).toString('utf8').split('\r\n');
    this.#buf = this.#buf.subarray(headerEnd + 4);
    if ((lines[0] ?? '').trim() !== '') throw malformed('a boundary line is followed by other text');
    let disposition: string | null = null;
    let contentType: string | null = null;
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon < 0) throw malformed('a part header line has no colon');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-disposition') disposition = value;
      else if (name === 'content-type') contentType = value;
    }
    if (disposition === null || !/^form-data\s*(;|$)/i.test(disposition)) throw malformed('a part has no Content-Disposition: form-data');
    const name = param(disposition, 'name');
    if (name === null) throw malformed('a part has no name');
    this.#state = 'body';
    return { name, filename: param(disposition, 'filename'), contentType };
  }

  /** The current part's data, as it arrives (once). */
  async *data(): AsyncGenerator<Uint8Array> {
    if (this.#state !== 'body') return;
    for (;;) {
      const i = this.#buf.indexOf(this.#delimiter);
      if (i >= 0) {
        const last = this.#buf.subarray(0, i);
        this.#buf = this.#buf.subarray(i + this.#delimiter.length);
        this.#state = 'delimiter';
        if (last.length > 0) yield last;
        return;
      }
      const safe = this.#buf.length - this.#delimiter.length + 1;
      if (safe > 0) {
        const out = this.#buf.subarray(0, safe);
        this.#buf = this.#buf.subarray(safe);
        yield out;
      }
      if (!(await this.#fill())) throw malformed('it ends inside a part');
    }
  }

  /** The current part's data as text; INVALID_MULTIPART beyond `maxBytes` bytes (form fields are small). */
  async text(maxBytes: number): Promise<string> {
    const chunks: Uint8Array[] = [];
    let n = 0;
    for await (const c of this.data()) {
      n += c.byteLength;
      if (n > maxBytes) throw malformed(`a form field is longer than ${maxBytes} bytes`);
      chunks.push(c);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  /**
   * Read the rest of the body and drop it, whatever it holds (after a refusal), within the byte cap and
   * at most about `more` bytes beyond those read so far: false when the body goes on beyond that.
   */
  async discard(more: number): Promise<boolean> {
    const stop = this.#read + more;
    this.#state = 'end';
    this.#buf = Buffer.alloc(0);
    while (this.#read <= stop) {
      if (!(await this.#fill())) return true;
      this.#buf = Buffer.alloc(0);
    }
    return false;
  }

  /** Read to the end of the body (the closing delimiter and any epilogue), within the byte cap. */
  async drain(): Promise<void> {
    while ((await this.next()) !== null);
    this.#buf = Buffer.alloc(0);
    while (await this.#fill()) this.#buf = Buffer.alloc(0);
  }
}
