import type { RoutableWorker, RoutingView } from '../control/serverless/routing.js';
import { RouteSigner, type SettingStore } from './signing.js';

/** Endpoint keys kept loaded per replica; past this many the least recently asked for is let go (loaded again when needed). */
const MAX_LOADED = 4_096;
/** Signatures kept per endpoint key, one per worker URL: more than an endpoint's most workers (max_workers, 1,000), so a view's read signs nothing already signed. */
const MAX_SIGNED_PER_KEY = 4_096;

const endpointSetting = (endpointId: number): string => `route_signing_key.endpoint.${endpointId}`;

/**
 * The keys that sign hand-outs to workers: one per endpoint, and the server's own. Vast's workers check a
 * signature over the worker's URL alone, so with one key for the whole server a hand-out of any endpoint
 * opened every worker of every tenant, and kept opening whichever worker later listened on that address. With
 * a key per endpoint a worker takes only its own endpoint's hand-outs. A worker learns its endpoint's key at
 * its REPORT_ADDR (`/report/{ref}/pubkey/`). Which key signs for a worker is the view's `signedBy`
 * (`routeSigner`): its endpoint's, but for workers created before endpoints had keys that have not reported
 * through their endpoint's address since, which keep the server's (`/pubkey/`).
 */
export class RouteKeys {
  /** The server's own key (Vast's GET /pubkey/). */
  readonly server: RouteSigner;
  readonly #store: SettingStore;
  readonly #endpoints = new Map<number, RouteSigner>();

  constructor(store: SettingStore) {
    this.#store = store;
    this.server = new RouteSigner(store);
  }

  /** The endpoint's signer with its key loaded: made and stored the first time any replica asks (every replica then signs with the one stored first). */
  async endpoint(endpointId: number): Promise<RouteSigner> {
    let s = this.#endpoints.get(endpointId);
    if (s !== undefined) this.#endpoints.delete(endpointId);
    else s = new RouteSigner(this.#store, endpointSetting(endpointId), MAX_SIGNED_PER_KEY);
    this.#endpoints.set(endpointId, s);
    if (this.#endpoints.size > MAX_LOADED) this.#endpoints.delete(this.#endpoints.keys().next().value as number);
    await s.ready();
    return s;
  }

  /** The signature the worker's view was read with; the server's key only where that is the worker's (a view read past `signed`). */
  signatureFor(w: RoutableWorker): string {
    if (w.signature !== undefined) return w.signature;
    if (w.signedBy !== null) throw new Error(`worker ${w.id} has no signature: its routing view was not signed (RouteKeys.signed)`);
    return this.server.sign(w.url);
  }

  /**
   * The view with each worker's signature made by the key that worker checks with: done when a view is read
   * (a key read from the store at most once per endpoint), so a request only copies it.
   */
  async signed(view: RoutingView): Promise<RoutingView> {
    if (view.workers.length === 0) return view;
    // A view's workers share one or two keys (their endpoint's; the server's for those started before): each looked up once.
    const signers = new Map<number | null, RouteSigner>();
    for (const w of view.workers) {
      if (signers.has(w.signedBy)) continue;
      const s = w.signedBy === null ? this.server : await this.endpoint(w.signedBy);
      if (!s.isReady) await s.ready();
      signers.set(w.signedBy, s);
    }
    return { ...view, workers: view.workers.map((w) => ({ ...w, signature: (signers.get(w.signedBy) as RouteSigner).sign(w.url) })) };
  }
}

/** Header lines of a signed hand-out, kept by signature (it names both the key and the URL). */
export function signedLines(limit = 1_000): (g: { readonly url: string; readonly signature: string }) => string {
  const seen = new Map<string, string>();
  return (g) => {
    let lines = seen.get(g.signature);
    if (lines === undefined) {
      if (seen.size >= limit) seen.clear();
      lines = `x-gantry-url: ${g.url}\r\nx-gantry-signature: ${g.signature}\r\n`;
      seen.set(g.signature, lines);
    }
    return lines;
  };
}
