import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { multipartBoundary, MultipartReader } from '../../src/api/edge/multipart.js';
import { GantryError } from '../../src/domain/errors.js';

const B = 'XyZ-boundary-42';
const form = (parts: [string, string | Buffer, string?][], o: { preamble?: string; epilogue?: string } = {}): Buffer =>
  Buffer.concat([
    Buffer.from(o.preamble ?? ''),
    ...parts.flatMap(([name, data, filename]) => [
      Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="${name}"${filename !== undefined ? `; filename="${filename}"` : ''}\r\n\r\n`),
      typeof data === 'string' ? Buffer.from(data) : data,
      Buffer.from('\r\n'),
    ]),
    Buffer.from(`--${B}--\r\n${o.epilogue ?? ''}`),
  ]);

/** The body in chunks of `size` bytes: every way a delimiter can be split across reads. */
async function* chunks(body: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < body.length; i += size) yield body.subarray(i, i + size);
}

async function readAll(body: Buffer, size: number, maxBytes = 1 << 20): Promise<[string, string | null, Buffer][]> {
  const r = new MultipartReader(chunks(body, size), B, { maxBytes });
  const out: [string, string | null, Buffer][] = [];
  for (let p = await r.next(); p !== null; p = await r.next()) {
    const data: Uint8Array[] = [];
    for await (const c of r.data()) data.push(c);
    out.push([p.name, p.filename, Buffer.concat(data)]);
  }
  return out;
}

const code = (c: string) => (e: unknown) => e instanceof GantryError && e.code === c;

describe('multipart/form-data streaming reader', () => {
  const file = Buffer.from(Array.from({ length: 300 }, (_, i) => i % 256));
  // Data that holds a near-delimiter: CRLF and dashes that are not the boundary.
  const tricky = Buffer.concat([Buffer.from(`\r\n--${B.slice(0, -1)}x\r\n--`), file]);
  const body = form([
    ['key', '1/abc'],
    ['token', 'p.s'],
    ['file', tricky, 'deployment.tar.gz'],
  ]);

  it('reads fields and a binary file whatever the chunk size', async () => {
    for (const size of [1, 2, 3, 7, 16, 17, 64, 1000, body.length]) {
      const parts = await readAll(body, size);
      assert.deepEqual(
        parts.map(([n, f, d]) => [n, f, d.toString('latin1')]),
        [
          ['key', null, '1/abc'],
          ['token', null, 'p.s'],
          ['file', 'deployment.tar.gz', tricky.toString('latin1')],
        ],
        `chunk size ${size}`,
      );
    }
  });

  it('skips a preamble and an epilogue, and the rest of a part not read', async () => {
    const b = form(
      [
        ['a', 'x'.repeat(100)],
        ['b', 'y'],
      ],
      { preamble: 'ignored preamble\r\n', epilogue: 'ignored' },
    );
    const r = new MultipartReader(chunks(b, 5), B, { maxBytes: 1 << 20 });
    assert.equal((await r.next())?.name, 'a');
    assert.equal((await r.next())?.name, 'b');
    assert.equal(await r.text(10), 'y');
    assert.equal(await r.next(), null);
    await r.drain();
  });

  it('counts every byte against the cap', async () => {
    await assert.rejects(readAll(body, 16, body.length - 1), code('UPLOAD_TOO_LARGE'));
    await readAll(body, 16, body.length);
  });

  it('refuses malformed forms', async () => {
    const bad = [
      'no boundary at all',
      `--${B}\r\nContent-Disposition: form-data; name="a"\r\n\r\nunterminated`,
      `--${B}\r\nContent-Type: text/plain\r\n\r\nx\r\n--${B}--`,
      `--${B}\r\nContent-Disposition: attachment; name="a"\r\n\r\nx\r\n--${B}--`,
      `--${B}\r\nno colon here\r\n\r\nx\r\n--${B}--`,
      `--${B}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--${B}--`,
      `--${B}\r\nContent-Disposition: form-data; name="a"`,
    ];
    for (const text of bad) await assert.rejects(readAll(Buffer.from(text), 4), code('INVALID_MULTIPART'), text);
    await assert.rejects(
      (async () => {
        const r = new MultipartReader(chunks(form([['a', 'x'.repeat(50)]]), 8), B, { maxBytes: 1 << 20 });
        await r.next();
        await r.text(10);
      })(),
      code('INVALID_MULTIPART'),
    );
  });

  it('refuses a preamble longer than its cap', async () => {
    const long = form([['a', 'x']], { preamble: `${'p'.repeat(100)}\r\n` });
    await assert.rejects(new MultipartReader(chunks(long, 16), B, { maxBytes: 1 << 20, maxPreambleBytes: 50 }).next(), code('INVALID_MULTIPART'));
    assert.equal((await new MultipartReader(chunks(long, 16), B, { maxBytes: 1 << 20, maxPreambleBytes: 200 }).next())?.name, 'a');
  });

  it('discards the rest of a body within a budget, else says it goes on', async () => {
    const big = form([['a', 'x'.repeat(1000)]]);
    const short = new MultipartReader(chunks(big, 100), B, { maxBytes: 1 << 20 });
    await short.next();
    assert.equal(await short.discard(2000), true);
    assert.equal(short.bytesRead, big.length);
    const long = new MultipartReader(chunks(big, 100), B, { maxBytes: 1 << 20 });
    await long.next();
    assert.equal(await long.discard(300), false);
    assert.ok(long.bytesRead < big.length);
    await assert.rejects(new MultipartReader(chunks(big, 100), B, { maxBytes: 500 }).discard(2000), code('UPLOAD_TOO_LARGE'));
  });

  it('reads the boundary from the content type', () => {
    assert.equal(multipartBoundary(`multipart/form-data; boundary=${B}`), B);
    assert.equal(multipartBoundary('multipart/form-data; charset=utf-8; boundary="a b"'), 'a b');
    for (const ct of [undefined, 'application/json', 'multipart/form-data', 'multipart/mixed; boundary=x'])
      assert.throws(() => multipartBoundary(ct), code('INVALID_MULTIPART'), String(ct));
  });
});
