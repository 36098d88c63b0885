/** Tasks run one at a time per key, in the order asked; one that fails does not hold up the next. */
export class OneAtATime<K> {
  readonly #tails = new Map<K, Promise<unknown>>();

  run<T>(key: K, task: () => Promise<T>): Promise<T> {
    const next = (this.#tails.get(key) ?? Promise.resolve()).then(task, task);
    this.#tails.set(key, next);
    const done = (): void => {
      if (this.#tails.get(key) === next) this.#tails.delete(key);
    };
    next.then(done, done);
    return next;
  }
}
