import { gunzipSync, gzipSync } from 'node:zlib';

/**
 * A small ustar writer and reader for code deployment tarballs (decision 020): regular files only,
 * mode 0644, mtime 0, so the same files always make the same bytes. No `tar` program is needed on
 * either side (a worker image may have none).
 */
export interface TarEntry {
  /** A relative path with `/` separators, no `..`. */
  readonly path: string;
  readonly data: Buffer;
}

const BLOCK = 512;

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\0`;
}

/** A path a tarball may hold: relative, `/`-separated, no empty, `.` or `..` segments. */
export function checkTarPath(p: string): string {
  const parts = p.split('/');
  if (p === '' || p.startsWith('/') || p.includes('\\') || p.includes('\0') || parts.some((s) => s === '' || s === '.' || s === '..'))
    throw new Error(`not a relative path a tarball may hold: ${JSON.stringify(p)}`);
  return p;
}

function header(path: string, size: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  const name = Buffer.from(checkTarPath(path), 'utf8');
  let prefix = Buffer.alloc(0);
  let rest = name;
  if (name.length > 100) {
    // ustar: the name's head goes in the 155-byte prefix, split at a '/'.
    const cut = path.lastIndexOf('/', 155);
    if (cut <= 0 || Buffer.byteLength(path.slice(cut + 1)) > 100) throw new Error(`path too long for a tarball: ${path}`);
    prefix = Buffer.from(path.slice(0, cut), 'utf8');
    rest = Buffer.from(path.slice(cut + 1), 'utf8');
  }
  rest.copy(h, 0);
  h.write(octal(0o644, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');
  h.write(octal(0, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(0, 12), 136, 'ascii');
  h.fill(' ', 148, 156);
  h.write('0', 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  prefix.copy(h, 345);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

/** The entries as a gzip'd tarball, in the order given. */
export function writeTarGz(entries: readonly TarEntry[]): Buffer {
  const out: Buffer[] = [];
  for (const e of entries) {
    out.push(header(e.path, e.data.length), e.data);
    const pad = (BLOCK - (e.data.length % BLOCK)) % BLOCK;
    if (pad > 0) out.push(Buffer.alloc(pad));
  }
  out.push(Buffer.alloc(BLOCK * 2));
  // mtime 0 in the gzip header too (zlib writes 0): the same files give the same bytes.
  return gzipSync(Buffer.concat(out));
}

function field(h: Buffer, at: number, len: number): string {
  const s = h.subarray(at, at + len);
  const end = s.indexOf(0);
  return s.subarray(0, end === -1 ? len : end).toString('utf8');
}

/** The regular files of a gzip'd tarball; directories are skipped, links and odd paths refused. */
export function readTarGz(gz: Buffer): TarEntry[] {
  const tar = gunzipSync(gz);
  const out: TarEntry[] = [];
  for (let at = 0; at + BLOCK <= tar.length;) {
    const h = tar.subarray(at, at + BLOCK);
    if (h.every((b) => b === 0)) break;
    const size = parseInt(field(h, 124, 12).trim() || '0', 8);
    const type = String.fromCharCode(h[156] ?? 0);
    const prefix = field(h, 345, 155);
    const name = prefix === '' ? field(h, 0, 100) : `${prefix}/${field(h, 0, 100)}`;
    if (!Number.isSafeInteger(size) || size < 0 || at + BLOCK + size > tar.length) throw new Error(`a broken tarball entry: ${JSON.stringify(name)}`);
    const data = tar.subarray(at + BLOCK, at + BLOCK + size);
    at += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    if (type === '5') continue;
    if (type !== '0' && type !== '\0')
      throw new Error(`the tarball holds ${JSON.stringify(name)} of type ${JSON.stringify(type)}: only regular files are taken`);
    out.push({ path: checkTarPath(name.replace(/^\.\//, '')), data: Buffer.from(data) });
  }
  return out;
}
