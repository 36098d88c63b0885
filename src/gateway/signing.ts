import { createPrivateKey, createPublicKey, generateKeyPair, sign, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { boundedMemo } from '../domain/bounded-memo.js';

const SETTING = 'route_signing_key';
const MAX_CACHED = 10_000;
const generateRsaKey = promisify(generateKeyPair);

/** Where the key is kept: the store's shared settings (every replica signs with the one written first). */
export interface SettingStore {
  getSetting(key: string): Promise<string | null>;
  getOrPutSetting(key: string, value: string): Promise<string>;
}

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
 *
 * Loaded when first needed (`ready()`, before the first signature or the public key), not at start, and
 * made only where the store holds none: making an RSA key costs about a tenth of a second of CPU, which a
 * control plane that routes nothing, or restarts, or joins replicas that made one, need not spend. It is
 * made off the event loop, and one made for a store that failed to keep it is offered again at the next try.
 */
export class RouteSigner {
  readonly #store: SettingStore;
  readonly #setting: string;
  #key: KeyObject | null = null;
  #publicKeyPem: string | null = null;
  #loading: Promise<void> | null = null;
  #made: Promise<string> | null = null;

  /** `setting`: where the store keeps this key (the server's own by default; an endpoint's: route-keys.ts). */
  constructor(store: SettingStore, setting = SETTING, maxCached = MAX_CACHED) {
    this.#store = store;
    this.#setting = setting;
    this.sign = boundedMemo(maxCached, (url: string) => {
      if (this.#key === null) throw new Error('the route signing key is not loaded: await ready() first');
      return sign('sha256', Buffer.from(RouteSigner.message(url)), this.#key).toString('base64');
    });
  }

  /** A signer whose key is already loaded (tests and tools that sign at once). */
  static async load(store: SettingStore): Promise<RouteSigner> {
    const s = new RouteSigner(store);
    await s.ready();
    return s;
  }

  /** Whether `sign` and `publicKeyPem` can be used now. */
  get isReady(): boolean {
    return this.#key !== null;
  }

  /** Load the stored key, storing a new one if there is none; a failed load (the store gone) is tried again at the next call. */
  ready(): Promise<void> {
    if (this.#key !== null) return Promise.resolve();
    this.#loading ??= (async () => {
      const pem = (await this.#store.getSetting(this.#setting)) ?? (await this.#store.getOrPutSetting(this.#setting, await this.#fresh()));
      const key = createPrivateKey(pem);
      this.#publicKeyPem = createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
      this.#key = key;
      this.#made = null;
    })().finally(() => (this.#loading = null));
    return this.#loading;
  }

  /** A new key, made once however often the store fails to take it. */
  #fresh(): Promise<string> {
    this.#made ??= generateRsaKey('rsa', { modulusLength: 2048 }).then(({ privateKey }) => privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    return this.#made;
  }

  get publicKeyPem(): string {
    if (this.#publicKeyPem === null) throw new Error('the route signing key is not loaded: await ready() first');
    return this.#publicKeyPem;
  }

  /** The exact text that is signed for a worker URL. */
  static message(url: string): string {
    return JSON.stringify({ url }, null, 4);
  }

  /** PKCS#1 v1.5 signatures are deterministic and the message is the URL alone, so each URL is signed once. */
  readonly sign: (url: string) => string;
}
