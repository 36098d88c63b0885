import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { sshPublicKeyProblem } from '../../src/domain/account/ssh-public-key.js';

/** SSH wire fields (RFC 4251): a length, then the bytes; an mpint gets a 0 byte before a high bit. */
const str = (b: Buffer | string): Buffer => {
  const v = typeof b === 'string' ? Buffer.from(b) : b;
  const n = Buffer.alloc(4);
  n.writeUInt32BE(v.length);
  return Buffer.concat([n, v]);
};
const mpint = (b: Buffer): Buffer => str((b[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
const line = (type: string, ...fields: Buffer[]): string => `${type} ${Buffer.concat([str(type), ...fields]).toString('base64')} me@laptop`;
const b64url = (s: unknown): Buffer => Buffer.from(String(s), 'base64url');

function ed25519Raw(): Buffer {
  const der = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' });
  return der.subarray(der.length - 32);
}
function rsa(bits: number): string {
  const jwk = generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({ format: 'jwk' });
  return line('ssh-rsa', mpint(b64url(jwk.e)), mpint(b64url(jwk.n)));
}
function ecdsa(curve: 'P-256' | 'P-384' | 'P-521'): string {
  const name = `nistp${curve.slice(2)}`;
  const jwk = generateKeyPairSync('ec', { namedCurve: curve }).publicKey.export({ format: 'jwk' });
  return line(`ecdsa-sha2-${name}`, str(name), str(Buffer.concat([Buffer.from([4]), b64url(jwk.x), b64url(jwk.y)])));
}

describe('OpenSSH public key lines', () => {
  it('takes real keys of every type sshd reads, with or without a comment', () => {
    const ed = line('ssh-ed25519', str(ed25519Raw()));
    for (const key of [
      ed,
      ed.replace(/ me@laptop$/, ''),
      rsa(2048),
      ecdsa('P-256'),
      ecdsa('P-384'),
      ecdsa('P-521'),
      line('sk-ssh-ed25519@openssh.com', str(ed25519Raw()), str('ssh:')),
    ])
      assert.equal(sshPublicKeyProblem(key), null, key);
  });

  it("refuses a blob that is not base64, names another type, or does not hold its type's key", () => {
    const ed = str(ed25519Raw());
    for (const [key, why] of [
      ['ssh-ed25519 garbage', /not base64/],
      ['ssh-ed25519 AAAA', /too short to name a key type/],
      ['ssh-ed25519 AAAAC3NzaC1yc2EAAAA= x', /too short to name a key type/],
      [rsa(1024).replace(/^ssh-rsa/, 'ssh-ed25519'), /declares ssh-ed25519 but its key data is of type ssh-rsa/],
      [line('ssh-ed25519', str(Buffer.alloc(31))), /32-byte public key/],
      [line('ssh-ed25519', ed, Buffer.from([0])), /1 bytes after the key/],
      [line('ssh-rsa', mpint(Buffer.from([1, 0, 1])), mpint(Buffer.alloc(64, 0xff))), /modulus of 512 bits/],
      [ecdsa('P-256').replace(/^ecdsa-sha2-nistp256/, 'ecdsa-sha2-nistp384'), /declares ecdsa-sha2-nistp384 but its key data is of type ecdsa-sha2-nistp256/],
      [line('ecdsa-sha2-nistp256', str('nistp384'), str(Buffer.alloc(65, 4))), /curve nistp256/],
      [line('sk-ssh-ed25519@openssh.com', ed), /application/],
      [line('ssh-foo', ed), /not an OpenSSH public key type/],
      // Object's own names are no key types (they were Object's: a TypeError, a 500).
      ...['__proto__', 'hasOwnProperty', 'constructor'].map((t) => [line(t, ed), /not an OpenSSH public key type/] as const),
      // Bits a last character has spare, set: the text is not what any blob encodes to.
      [line('ssh-ed25519', ed, Buffer.from([0])).replace('A== ', 'B== '), /not base64/],
      ['ssh-ed25519', /one line/],
      [`ssh-ed25519 ${ed.toString('base64')}\nssh-ed25519 ${ed.toString('base64')}`, /one line/],
    ] as const)
      assert.match(sshPublicKeyProblem(key) ?? 'accepted', why, key);
  });

  it("takes the tests' synthetic ed25519 lines: 68 characters of base64 whose 26th is A to P", () => {
    assert.equal(sshPublicKeyProblem(`ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${'A'.repeat(42)}1 k@race`), null);
    assert.match(sshPublicKeyProblem('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITenantAOnlyKeyMaterial0000000000000') ?? '', /32-byte/);
  });
});
