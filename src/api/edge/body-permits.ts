import type { FastifyReply, FastifyRequest } from 'fastify';
import { GantryError } from '../../domain/errors.js';
import { principalIf } from './principal.js';

interface Waiter {
  readonly owner: string;
  readonly grant: (release: () => void) => void;
  readonly refuse: () => void;
}

/**
 * At most `max` holders at once, and at most `perOwner` of one owner (an account: one that sends bodies
 * slowly must not hold every permit of the server); one more waits its turn (first come, first served,
 * among those whose owner may hold one more) for up to `waitMs`, then is refused. A permit is handed from
 * the holder that releases it straight to the first such waiter, so a newcomer never overtakes the queue.
 */
export class BodyPermits {
  readonly max: number;
  readonly perOwner: number;
  readonly waitMs: number;
  #held = 0;
  readonly #heldBy = new Map<string, number>();
  readonly #waiting: Waiter[] = [];

  readonly #onChange: (held: number, waiting: number) => void;

  /** `onChange`: told the counts after each change (a gauge). */
  constructor(o: { max: number; perOwner?: number; waitMs: number; onChange?: (held: number, waiting: number) => void }) {
    this.max = o.max;
    this.perOwner = o.perOwner ?? o.max;
    this.waitMs = o.waitMs;
    this.#onChange = o.onChange ?? (() => undefined);
  }

  get held(): number {
    return this.#held;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** A release function (call it once), or null when no permit came within waitMs or `gone` fired first. */
  acquire(gone: AbortSignal, owner = ''): Promise<(() => void) | null> {
    if (gone.aborted) return Promise.resolve(null);
    if (this.#held < this.max && this.#mayHold(owner)) {
      this.#held++;
      this.#changed();
      return Promise.resolve(this.#releaser(owner));
    }
    if (this.waitMs === 0) return Promise.resolve(null);
    return new Promise((resolve) => {
      const leave = (): void => {
        clearTimeout(timer);
        gone.removeEventListener('abort', refuse);
        const i = this.#waiting.indexOf(w);
        if (i >= 0) this.#waiting.splice(i, 1);
        this.#changed();
      };
      const refuse = (): void => {
        leave();
        resolve(null);
      };
      const w: Waiter = {
        owner,
        grant: (release) => {
          leave();
          resolve(release);
        },
        refuse,
      };
      const timer = setTimeout(refuse, this.waitMs);
      gone.addEventListener('abort', refuse, { once: true });
      this.#waiting.push(w);
      this.#changed();
    });
  }

  #changed(): void {
    this.#onChange(this.#held, this.#waiting.length);
  }

  #mayHold(owner: string): boolean {
    return (this.#heldBy.get(owner) ?? 0) < this.perOwner;
  }

  #releaser(owner: string): () => void {
    this.#heldBy.set(owner, (this.#heldBy.get(owner) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.#heldBy.get(owner) ?? 1) - 1;
      if (left > 0) this.#heldBy.set(owner, left);
      else this.#heldBy.delete(owner);
      const next = this.#waiting.find((w) => this.#mayHold(w.owner));
      // The permit passes on as it is: held stays the same.
      if (next !== undefined) next.grant(this.#releaser(next.owner));
      else {
        this.#held--;
        this.#changed();
      }
    };
  }
}

/**
 * A preParsing hook: a body longer than `smallBytes`, or of unknown length (chunked), is read only with
 * a permit, held until its reply is sent or its connection closes. Bodies wait unread meanwhile: the
 * socket's backpressure keeps them in the client (also on a connection the proxy's wire path handed over;
 * one half-closed by its client is read whole, as its end must not reach Node's server). A wait past the bound is MODEL_UPLOADS_BUSY with a
 * Retry-After of `retryAfterS`.
 */
export function largeBodyGate(
  permits: BodyPermits,
  o: { smallBytes: number; retryAfterS: number },
): (req: FastifyRequest, reply: FastifyReply) => Promise<void> {
  return async (req, reply) => {
    const declared = Number(req.headers['content-length']);
    if (req.headers['content-length'] !== undefined && Number.isFinite(declared) && declared <= o.smallBytes) return;
    const gone = new AbortController();
    let release: (() => void) | null = null;
    let closed = false;
    // One listener from the start: a connection that closes while waiting leaves the queue, and one that
    // closes once the permit is held (or between the grant and this hook going on) gives it back.
    reply.raw.once('close', () => {
      closed = true;
      gone.abort();
      release?.();
    });
    const r = await permits.acquire(gone.signal, String(principalIf(req)?.accountId ?? ''));
    if (r === null) {
      throw new GantryError(
        'MODEL_UPLOADS_BUSY',
        `This server reads at most ${permits.max} large model bodies at once, and none finished within ${permits.waitMs} ms; retry later.`,
        { retryAfter: o.retryAfterS, limit: permits.max, waitMs: permits.waitMs },
      );
    }
    if (closed) r();
    else release = r;
  };
}
