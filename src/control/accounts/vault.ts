import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { GantryError } from '../../domain/errors.js';

export interface VaultKey {
  /** Short name stored next to every sealed value, so a rotation knows what to re-seal. */
  readonly id: string;
  /** 32 bytes. */
  readonly key: Buffer;
}

/**
 * AES-256-GCM for secrets at rest. The keys live outside the database (a key file, see
 * docs/operations.md "Secrets key rotation"); the first key seals, every key opens. A sealed value is
 * `<key id>:<iv>:<tag>:<ciphertext>` (base64url), and the account id and name are bound in as
 * additional data, so a sealed value copied to another row does not open.
 */
export class Vault {
  readonly #keys: readonly VaultKey[];

  constructor(keys: readonly VaultKey[]) {
    if (keys.length === 0) throw new Error('the vault needs at least one key');
    for (const k of keys) {
      if (k.key.length !== 32) throw new Error(`vault key ${k.id} is ${k.key.length} bytes; AES-256 needs 32`);
      if (!/^[A-Za-z0-9_-]+$/.test(k.id)) throw new Error(`vault key id "${k.id}" may hold letters, digits, - and _ only`);
    }
    this.#keys = keys;
  }

  get currentKeyId(): string {
    return (this.#keys[0] as VaultKey).id;
  }

  seal(plain: string, context: string): { sealed: string; keyId: string } {
    const k = this.#keys[0] as VaultKey;
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', k.key, iv);
    c.setAAD(Buffer.from(context));
    const ct = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    const parts = [k.id, iv.toString('base64url'), c.getAuthTag().toString('base64url'), ct.toString('base64url')];
    return { sealed: parts.join(':'), keyId: k.id };
  }

  open(sealed: string, context: string): string {
    const [id, iv, tag, ct] = sealed.split(':');
    const k = this.#keys.find((x) => x.id === id);
    if (k === undefined || iv === undefined || tag === undefined || ct === undefined) {
      throw new GantryError('INTERNAL', `A secret is sealed with key "${id ?? '?'}", which the key file does not hold.`);
    }
    const d = createDecipheriv('aes-256-gcm', k.key, Buffer.from(iv, 'base64url'));
    d.setAAD(Buffer.from(context));
    d.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([d.update(Buffer.from(ct, 'base64url')), d.final()]).toString('utf8');
  }
}

/** The additional data a secret is sealed with: whose and which. */
export function secretContext(accountId: number, name: string): string {
  return `secret:${accountId}:${name}`;
}

/** Parse a key file: one `<id> <base64 of 32 bytes>` per line, newest first; `#` starts a comment. */
export function parseKeyFile(text: string): VaultKey[] {
  const keys: VaultKey[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    const [id, b64] = line.split(/\s+/);
    if (id === undefined || b64 === undefined) throw new Error(`bad line in the secrets key file: "${line.slice(0, 20)}…"`);
    keys.push({ id, key: Buffer.from(b64, 'base64') });
  }
  return keys;
}

/** A new key line for the key file. */
export function newKeyLine(now: number): string {
  return `k${now.toString(36)} ${randomBytes(32).toString('base64')}`;
}
