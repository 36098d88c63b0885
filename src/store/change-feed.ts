/**
 * Change notifications between the parts of the control plane, and between replicas that share one
 * database: a writer publishes what it changed once the change is committed; whoever keeps a view of
 * it (the reconciler, the offers index, the key cache) acts at once instead of at its next poll.
 * Polling stays as the safety net: a notification may be lost (a replica's listening connection
 * broke), which subscribers learn as a change with `id: null` ("anything of this topic may have
 * changed") once the feed is connected again.
 */
export type ChangeTopic =
  /** an instance's intent: created, stop/start/destroy asked (reconcilers act on it); or its workload exited */
  | 'instance'
  /** what was recorded of an instance: a new status (the reconciler), GPUs or vCPUs taken or given back (the store), a new label */
  | 'instance-status'
  /** a machine registered, listed, unlisted, verified, put in maintenance or back online (the store publishes these), or deleted */
  | 'machine'
  /** an endpoint, workergroup or deployment: created, stopped, started, changed, deleted */
  | 'endpoint'
  /** what people see of an endpoint moved at a serverless pass: its status, stop phase, held requests or workers (the console's live view) */
  | 'endpoint-status'
  /** an API key, account, team role or membership: what a key may do changed */
  | 'credential'
  /**
   * what an endpoint's gateways or workers hold fell, or a gateway published it after the stop (a drain may
   * move on); or a worker became ready or not (held requests may go to it): a gateway, a worker's report, a probe
   */
  | 'gateway'
  /** an instance's SSH keys changed: the replica that holds its host's session writes them */
  | 'ssh-keys'
  /** a call waits for the replica that holds this machine's agent session (`src/control/host-calls.ts`) */
  | 'host-call'
  /** that replica answered a call for this machine: its asker takes the answer */
  | 'host-answer';

// Every topic once: a topic added to the type and not here fails to compile (and would not cross replicas).
const TOPICS: Readonly<Record<ChangeTopic, true>> = {
  instance: true,
  'instance-status': true,
  machine: true,
  endpoint: true,
  'endpoint-status': true,
  credential: true,
  gateway: true,
  'ssh-keys': true,
  'host-call': true,
  'host-answer': true,
};
export const CHANGE_TOPICS = Object.keys(TOPICS) as readonly ChangeTopic[];

export interface Change {
  readonly topic: ChangeTopic;
  /** The changed record's id; null: any record of the topic may have changed (resynchronise). */
  readonly id: number | null;
}

export type ChangeListener = (c: Change) => void;

/** The port. Adapters: `LocalChangeFeed` (one process), `PgChangeFeed` (replicas on PostgreSQL). */
export interface ChangeFeed {
  /**
   * Tell this replica's subscribers (in a later microtask, never inside the caller's call) and every
   * other replica. Call it after the change is committed, so a subscriber that reads sees it.
   */
  publish(topic: ChangeTopic, id: number | null): void;
  /**
   * `publish`, then wait until every other replica that may still use what it remembers of the topic has
   * confirmed it heard the change (bounded by `changeFeedTrustMs`): a revoked key must be refused on the
   * next request at every replica, not a notification's round trip later (decision 014). One process: at once.
   */
  publishConfirmed(topic: ChangeTopic, id: number | null): Promise<void>;
  /**
   * Whether this replica may use what it remembers from the feed (remembered keys): true while it hears
   * every change as it is published; false while its listening connection is lost or has not proved
   * itself within `changeFeedTrustMs`, when a replica that changed something no longer waits for it.
   */
  current(): boolean;
  /** Listen to one topic; returns the function that stops listening. */
  subscribe(topic: ChangeTopic, listener: ChangeListener): () => void;
  /** Resolves once changes published by other replicas reach this one (at once for a single process). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/** The subscribers of one process, and delivery to them outside the publisher's call stack. */
export class LocalChangeFeed implements ChangeFeed {
  readonly #listeners = new Map<ChangeTopic, Set<ChangeListener>>();

  publish(topic: ChangeTopic, id: number | null): void {
    queueMicrotask(() => this.deliver({ topic, id }));
  }

  /** One process: its subscribers hear of the change (a microtask) before the caller's await resumes. */
  async publishConfirmed(topic: ChangeTopic, id: number | null): Promise<void> {
    this.publish(topic, id);
  }

  /** One process hears every change it makes. */
  current(): boolean {
    return true;
  }

  subscribe(topic: ChangeTopic, listener: ChangeListener): () => void {
    let set = this.#listeners.get(topic);
    if (set === undefined) this.#listeners.set(topic, (set = new Set()));
    set.add(listener);
    return () => void set.delete(listener);
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  /** Call every listener of the change's topic; one that throws does not keep it from the others. */
  protected deliver(c: Change): void {
    for (const l of [...(this.#listeners.get(c.topic) ?? [])]) {
      try {
        l(c);
      } catch {
        // a listener's failure is its own: the others still hear of the change
      }
    }
  }

  /** Everything may have changed (notifications were missed): every topic, id null. */
  protected resync(): void {
    for (const topic of CHANGE_TOPICS) this.deliver({ topic, id: null });
  }

  async close(): Promise<void> {
    this.#listeners.clear();
  }
}
