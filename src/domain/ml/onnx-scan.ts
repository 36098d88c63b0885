import { GantryError } from '../errors.js';

/**
 * A streaming scan of an ONNX ModelProto (protobuf): it reads field headers, keeps the few small
 * fields it needs (IR version, producer, opset imports, the graph's input and output names) and skips
 * everything else by its length, so a model of any size is checked while holding one chunk at a time.
 * Field numbers are onnx.proto's: ModelProto ir_version=1 producer_name=2 graph=7 opset_import=8;
 * GraphProto input=11 output=12; ValueInfoProto name=1; OperatorSetIdProto domain=1 version=2.
 */
export interface OnnxSummary {
  irVersion: number;
  opsets: { domain: string; version: number }[];
  inputs: string[];
  outputs: string[];
  producer: string;
}

/** The inputs Gantry feeds a model, as Hugging Face's ONNX exports name them. */
export const MODEL_INPUTS = ['input_ids', 'attention_mask', 'token_type_ids'] as const;

/** A small field we keep (names, opsets) above this is not a real model's. */
const MAX_SMALL_FIELD = 1 << 20;
const MAX_IR_VERSION = 1000;

const bad = (why: string): GantryError => new GantryError('MODEL_DEFINITION_INVALID', `The model definition is not a valid ONNX model: ${why}`, {});

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

const EMPTY = new Uint8Array(0);

/** Pulls bytes from the chunks on demand; `offset` counts bytes consumed so far. */
class ChunkReader {
  readonly #it: Iterator<Uint8Array> | AsyncIterator<Uint8Array>;
  #buf: Uint8Array = new Uint8Array(0);
  #pos = 0;
  offset = 0;

  constructor(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
    this.#it = Symbol.asyncIterator in chunks ? chunks[Symbol.asyncIterator]() : chunks[Symbol.iterator]();
  }

  /** Make at least one byte available; false at the end of the stream. */
  async #fill(): Promise<boolean> {
    while (this.#pos >= this.#buf.length) {
      // Let the spent part go before the next is read: one part in memory at a time.
      this.#buf = EMPTY;
      this.#pos = 0;
      const n = await this.#it.next();
      if (n.done === true) return false;
      this.#buf = n.value;
      this.#pos = 0;
    }
    return true;
  }

  async atEnd(): Promise<boolean> {
    return !(await this.#fill());
  }

  async byte(): Promise<number> {
    if (!(await this.#fill())) throw bad('the bytes end in the middle of a field (truncated)');
    this.offset++;
    return this.#buf[this.#pos++] ?? 0;
  }

  /** A varint as a JavaScript number (exact up to 2^53, enough for lengths and versions). */
  async varint(): Promise<number> {
    let v = 0;
    for (let i = 0, scale = 1; i < 10; i++, scale *= 128) {
      const b = await this.byte();
      v += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return v;
    }
    throw bad('a varint is longer than 10 bytes');
  }

  async bytes(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    for (let got = 0; got < n;) {
      if (!(await this.#fill())) throw bad('the bytes end in the middle of a field (truncated)');
      const take = Math.min(n - got, this.#buf.length - this.#pos);
      out.set(this.#buf.subarray(this.#pos, this.#pos + take), got);
      this.#pos += take;
      this.offset += take;
      got += take;
    }
    return out;
  }

  async skip(n: number): Promise<void> {
    for (let left = n; left > 0;) {
      if (!(await this.#fill())) throw bad('the bytes end in the middle of a field (truncated)');
      const take = Math.min(left, this.#buf.length - this.#pos);
      this.#pos += take;
      this.offset += take;
      left -= take;
    }
  }
}

/** A cursor over one small, fully read submessage. */
class Cursor {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}
  varint(): number {
    let v = 0;
    for (let i = 0, scale = 1; i < 10; i++, scale *= 128) {
      if (this.pos >= this.buf.length) throw bad('a submessage ends inside a varint');
      const b = this.buf[this.pos++] ?? 0;
      v += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return v;
    }
    throw bad('a varint is longer than 10 bytes');
  }
  take(n: number): Uint8Array {
    if (this.pos + n > this.buf.length) throw bad('a submessage field runs past its end');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  skip(wire: number): void {
    if (wire === WIRE_VARINT) this.varint();
    else if (wire === WIRE_I64) this.take(8);
    else if (wire === WIRE_LEN) this.take(this.varint());
    else if (wire === WIRE_I32) this.take(4);
    else throw bad(`wire type ${wire} is not used by ONNX`);
  }
  /** Read every field; `on` returns true when it consumed the field's value itself. */
  fields(on: (field: number, wire: number, c: Cursor) => boolean): void {
    while (this.pos < this.buf.length) {
      const key = this.varint();
      const field = Math.floor(key / 8);
      const wire = key % 8;
      if (field === 0) throw bad('field number 0');
      if (!on(field, wire, this)) this.skip(wire);
    }
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
function text(b: Uint8Array): string {
  try {
    return utf8.decode(b);
  } catch {
    throw bad('a name is not UTF-8');
  }
}

/** OperatorSetIdProto: domain=1 (empty is the default `ai.onnx`), version=2. */
function opset(buf: Uint8Array): { domain: string; version: number } {
  const o = { domain: '', version: 0 };
  new Cursor(buf).fields((f, w, c) => {
    if (f === 1 && w === WIRE_LEN) o.domain = text(c.take(c.varint()));
    else if (f === 2 && w === WIRE_VARINT) o.version = c.varint();
    else return false;
    return true;
  });
  return o;
}

/** ValueInfoProto: name=1. */
function valueInfoName(buf: Uint8Array): string {
  let name = '';
  new Cursor(buf).fields((f, w, c) => {
    if (f !== 1 || w !== WIRE_LEN) return false;
    name = text(c.take(c.varint()));
    return true;
  });
  return name;
}

async function skipField(r: ChunkReader, wire: number): Promise<void> {
  if (wire === WIRE_VARINT) await r.varint();
  else if (wire === WIRE_I64) await r.skip(8);
  else if (wire === WIRE_LEN) await r.skip(await r.varint());
  else if (wire === WIRE_I32) await r.skip(4);
  else throw bad(`wire type ${wire} is not used by ONNX`);
}

async function header(r: ChunkReader): Promise<[number, number]> {
  const key = await r.varint();
  const field = Math.floor(key / 8);
  if (field === 0) throw bad('field number 0');
  return [field, key % 8];
}

async function small(r: ChunkReader, what: string): Promise<Uint8Array> {
  const n = await r.varint();
  if (n > MAX_SMALL_FIELD) throw bad(`${what} is ${n} bytes long`);
  return r.bytes(n);
}

/** GraphProto, `length` bytes from here: keep input (11) and output (12) names, skip nodes and initializers. */
async function scanGraph(r: ChunkReader, length: number, into: OnnxSummary): Promise<void> {
  const end = r.offset + length;
  while (r.offset < end) {
    const [field, wire] = await header(r);
    if ((field === 11 || field === 12) && wire === WIRE_LEN) {
      const name = valueInfoName(await small(r, 'a graph input or output'));
      (field === 11 ? into.inputs : into.outputs).push(name);
    } else await skipField(r, wire);
  }
  if (r.offset !== end) throw bad('a graph field runs past the end of the graph');
}

/** Scan an ONNX ModelProto from its bytes in chunks of any size; throws MODEL_DEFINITION_INVALID when it is not one. */
export async function scanOnnx(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<OnnxSummary> {
  const r = new ChunkReader(chunks);
  const out: OnnxSummary = { irVersion: 0, opsets: [], inputs: [], outputs: [], producer: '' };
  let graphs = 0;
  if (await r.atEnd()) throw bad('it is empty');
  while (!(await r.atEnd())) {
    const [field, wire] = await header(r);
    if (field === 1) {
      if (wire !== WIRE_VARINT) throw bad('ir_version is not a number');
      out.irVersion = await r.varint();
    } else if (field === 2 && wire === WIRE_LEN) out.producer = text(await small(r, 'producer_name'));
    else if (field === 8 && wire === WIRE_LEN) out.opsets.push(opset(await small(r, 'an opset import')));
    else if (field === 7) {
      if (wire !== WIRE_LEN) throw bad('graph is not a message');
      graphs++;
      await scanGraph(r, await r.varint(), out);
    } else await skipField(r, wire);
  }
  if (out.irVersion < 1 || out.irVersion > MAX_IR_VERSION) throw bad(`it has no plausible ir_version (${out.irVersion})`);
  if (graphs === 0) throw bad('it has no graph');
  return out;
}

/**
 * The contract Gantry runs models under, the one Hugging Face ONNX exports have: int64 inputs
 * `input_ids` and `attention_mask` (`token_type_ids` when declared) and at least one output. Any other
 * input would have to be fed and Gantry has nothing to feed it; IR versions before 4 list weights as
 * inputs too, so extra inputs are refused only from IR 4 on.
 */
export function checkModelContract(s: OnnxSummary): void {
  const missing = ['input_ids', 'attention_mask'].filter((n) => !s.inputs.includes(n));
  if (missing.length > 0)
    throw new GantryError(
      'MODEL_DEFINITION_INVALID',
      `The ONNX model lacks the input(s) [${missing.join(', ')}]; Gantry feeds [${MODEL_INPUTS.join(', ')}] (as Hugging Face ONNX exports name them); the model declares [${s.inputs.join(', ')}]`,
      { inputs: s.inputs },
    );
  const extra = s.inputs.filter((n) => !(MODEL_INPUTS as readonly string[]).includes(n));
  if (extra.length > 0 && s.irVersion >= 4)
    throw new GantryError(
      'MODEL_DEFINITION_INVALID',
      `The ONNX model declares input(s) [${extra.join(', ')}] that Gantry cannot feed; it feeds [${MODEL_INPUTS.join(', ')}]`,
      {
        inputs: s.inputs,
      },
    );
  if (s.outputs.length === 0) throw new GantryError('MODEL_DEFINITION_INVALID', 'The ONNX model declares no output', {});
}
