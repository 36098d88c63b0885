/**
 * An OpenSSH public key line (`type base64-blob [comment]`), checked as sshd would read it from
 * authorized_keys: the blob is canonical base64, names the type the line declares, and holds that
 * type's fields with nothing after them. A line that passed only a pattern (`ssh-ed25519 garbage`,
 * an RSA blob declared ed25519) was written into instances as a key no client could ever use.
 */

/** Why the line is not a key; null when it is one. */
export function sshPublicKeyProblem(line: string): string | null {
  const m = /^(\S+) ([A-Za-z0-9+/]+={0,2})(?: [^\n\r]*)?$/.exec(line);
  if (m === null) return 'it is not "<type> <base64 key data> [comment]" on one line';
  const [, type = '', b64 = ''] = m;
  // The caller's text: `__proto__` or `hasOwnProperty` is no key type, not Object's.
  const fields = Object.hasOwn(FIELDS, type) ? FIELDS[type] : undefined;
  if (fields === undefined) return `'${type}' is not an OpenSSH public key type`;
  const blob = decode(b64);
  if (blob === null) return 'its key data is not base64';
  const r = new BlobReader(blob);
  const named = r.text();
  if (named === null) return 'its key data is too short to name a key type';
  if (named !== type) return `it declares ${type} but its key data is ${printable(named) ? `of type ${named}` : 'not of that type'}`;
  const problem = fields(r);
  if (problem !== null) return `its ${type} key data ${problem}`;
  return r.left() > 0 ? `its ${type} key data has ${r.left()} bytes after the key` : null;
}

const printable = (s: string): boolean => /^[\x21-\x7e]{1,64}$/.test(s);

/** The bytes of canonical base64: a decoder drops the bits a last character has spare, so only text that encodes back is what it says. */
function decode(b64: string): Uint8Array | null {
  const padded = b64.padEnd(Math.ceil(b64.length / 4) * 4, '=');
  let bin: string;
  try {
    bin = atob(padded);
  } catch {
    return null;
  }
  if (btoa(bin) !== padded) return null;
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** The SSH wire format's length-prefixed fields (RFC 4251 §5), read in turn; null past the end. */
class BlobReader {
  #at = 0;
  constructor(private readonly b: Uint8Array) {}
  bytes(): Uint8Array | null {
    if (this.#at + 4 > this.b.length) return null;
    const n = new DataView(this.b.buffer, this.b.byteOffset + this.#at, 4).getUint32(0);
    if (this.#at + 4 + n > this.b.length) return null;
    const v = this.b.subarray(this.#at + 4, this.#at + 4 + n);
    this.#at += 4 + n;
    return v;
  }
  text(): string | null {
    const v = this.bytes();
    return v === null ? null : String.fromCharCode(...v.subarray(0, 256)) + (v.length > 256 ? '…' : '');
  }
  left(): number {
    return this.b.length - this.#at;
  }
}

type Fields = (r: BlobReader) => string | null;

/** A positive mpint of at least `minBits` bits (RSA's modulus: OpenSSH refuses one under 1024). */
function mpint(r: BlobReader, what: string, minBits = 1): string | null {
  const v = r.bytes();
  if (v === null) return `is missing its ${what}`;
  const first = v.findIndex((x) => x !== 0);
  const bits = first < 0 ? 0 : (v.length - first) * 8 - Math.clz32(v[first] ?? 0) + 24;
  return bits < minBits ? `has a ${what} of ${bits} bits (at least ${minBits})` : null;
}

const ed25519: Fields = (r) => (r.bytes()?.length === 32 ? null : 'must hold a 32-byte public key');

/** ecdsa: the curve named again, then an uncompressed point (0x04, x, y). */
const ecdsa =
  (curve: string, coordinate: number): Fields =>
  (r) => {
    if (r.text() !== curve) return `must name the curve ${curve}`;
    const q = r.bytes();
    return q !== null && q.length === 1 + 2 * coordinate && q[0] === 4 ? null : `must hold a ${curve} point`;
  };

/** Security keys (FIDO): the key as its plain type's, then the application string. */
const sk =
  (key: Fields): Fields =>
  (r) =>
    key(r) ?? (r.text() === null ? 'is missing its application' : null);

const FIELDS: Record<string, Fields | undefined> = {
  'ssh-ed25519': ed25519,
  'ssh-rsa': (r) => mpint(r, 'exponent') ?? mpint(r, 'modulus', 1024),
  'ssh-dss': (r) => mpint(r, 'p') ?? mpint(r, 'q') ?? mpint(r, 'g') ?? mpint(r, 'public value'),
  'ecdsa-sha2-nistp256': ecdsa('nistp256', 32),
  'ecdsa-sha2-nistp384': ecdsa('nistp384', 48),
  'ecdsa-sha2-nistp521': ecdsa('nistp521', 66),
  'sk-ssh-ed25519@openssh.com': sk(ed25519),
  'sk-ecdsa-sha2-nistp256@openssh.com': sk(ecdsa('nistp256', 32)),
};
