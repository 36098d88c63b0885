import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { boundedMemo } from '../domain/bounded-memo.js';

const SETTING = 'route_signing_key';
const MAX_CACHED = 10_000;

/** A signed hand-out: the worker's URL, signed so the worker can tell the engine routed the request. */
export interface RouteGrant {
  readonly url: string;
  /** Unique per replica and increasing; a worker may refuse a replayed hand-out. */
  readonly reqnum: number;
  readonly signature: string;
  readonly cost: number;
  readonly endpoint: string;
}

/**
 * The key that signs /route/ answers, so workers take only requests the engine routed. Vast's workers
 * verify an RSA PKCS#1 v1.5 / SHA-256 signature over the JSON text of `{"url": url}` (keys sorted,
 * indent 4, as Python's json.dumps writes it) with the PEM key served at GET /pubkey/. The private
 * key lives in the store, so every replica signs with the same key.
 */
export class RouteSigner {
  readonly #key: KeyObject;
  readonly publicKeyPem: string;

  private constructor(privatePem: string) {
    this.#key = createPrivateKey(privatePem);
    this.publicKeyPem = createPublicKey(this.#key).export({ type: 'spki', format: 'pem' }).toString();
  }

  static async load(getOrPut: (key: string, value: string) => Promise<string>): Promise<RouteSigner> {
    const fresh = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    return new RouteSigner(await getOrPut(SETTING, fresh));
  }

  /** The exact text that is signed for a worker URL. */
  static message(url: string): string {
    return JSON.stringify({ url }, null, 4);
  }

  /** PKCS#1 v1.5 signatures are deterministic and the message is the URL alone, so each URL is signed once. */
  readonly sign: (url: string) => string = boundedMemo(MAX_CACHED, (url: string) =>
    sign('sha256', Buffer.from(RouteSigner.message(url)), this.#key).toString('base64'),
  );
}
