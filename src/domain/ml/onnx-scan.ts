import { GantryError } from '../errors.js';

/*
 * PLACEHOLDER: the ONNX scan is written by another change (issue 13's model-contract work), with the
 * signatures used here: `scanOnnx(chunks)` and `checkModelContract(summary)`. This minimal version
 * walks the top level of the ModelProto protobuf as the chunks stream by (never holding more than
 * one chunk), checks the wire format, and requires an ir_version and a graph. The merge keeps the
 * other change's file.
 */

export interface OnnxSummary {
  readonly irVersion: number;
  /** Bytes of the serialized graph (field 7 of ModelProto). */
  readonly graphBytes: number;
  readonly totalBytes: number;
}

function notOnnx(why: string): GantryError {
  return new GantryError('MODEL_DEFINITION_INVALID', `The model definition is not a valid ONNX model: ${why}.`);
}

/** Pulls bytes from a stream of chunks, one chunk held at a time. */
class ChunkReader {
  readonly #it: AsyncIterator<Uint8Array> | Iterator<Uint8Array>;
  #chunk: Uint8Array = new Uint8Array(0);
  #at = 0;
  total = 0;
  constructor(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
    this.#it = Symbol.asyncIterator in chunks ? chunks[Symbol.asyncIterator]() : chunks[Symbol.iterator]();
  }
  async #fill(): Promise<boolean> {
    while (this.#at >= this.#chunk.length) {
      const r = await this.#it.next();
      if (r.done === true) return false;
      this.#chunk = r.value;
      this.#at = 0;
      this.total += r.value.length;
    }
    return true;
  }
  /** The next byte, or -1 at the end. */
  async byte(): Promise<number> {
    if (!(await this.#fill())) return -1;
    return this.#chunk[this.#at++] as number;
  }
  async skip(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      if (!(await this.#fill())) throw notOnnx('a field runs past the end of the bytes');
      const take = Math.min(left, this.#chunk.length - this.#at);
      this.#at += take;
      left -= take;
    }
  }
  async varint(first?: number): Promise<number> {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const b = i === 0 && first !== undefined ? first : await this.byte();
      if (b < 0) throw notOnnx('a number runs past the end of the bytes');
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result;
      mul *= 128;
    }
    throw notOnnx('a number is longer than 10 bytes');
  }
  async drain(): Promise<void> {
    this.#at = this.#chunk.length;
    while (await this.#fill()) this.#at = this.#chunk.length;
  }
}

/** Walk a serialized ModelProto as it streams by; MODEL_DEFINITION_INVALID when it is not one. */
export async function scanOnnx(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<OnnxSummary> {
  const r = new ChunkReader(chunks);
  let irVersion: number | null = null;
  let graphBytes: number | null = null;
  for (;;) {
    const first = await r.byte();
    if (first < 0) break;
    const tag = await r.varint(first);
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (field === 0) throw notOnnx('field number 0');
    if (wire === 0) {
      const v = await r.varint();
      if (field === 1) irVersion = v;
    } else if (wire === 1) await r.skip(8);
    else if (wire === 5) await r.skip(4);
    else if (wire === 2) {
      const len = await r.varint();
      if (field === 7) graphBytes = len;
      await r.skip(len);
    } else throw notOnnx(`wire type ${wire} of field ${field}`);
  }
  await r.drain();
  if (irVersion === null) throw notOnnx('no ir_version');
  if (graphBytes === null) throw notOnnx('no graph');
  return { irVersion, graphBytes, totalBytes: r.total };
}

/** Whether Gantry can run the model (inputs and outputs of the contract); MODEL_DEFINITION_INVALID when not. */
export function checkModelContract(s: OnnxSummary): void {
  if (s.graphBytes === 0) throw notOnnx('the graph is empty');
}
