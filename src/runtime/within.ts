/**
 * `p`'s value, or `late` when it takes longer than `ms` (it goes on; nothing waits for it here). The timer does
 * not hold the process open: what `p` waits on does, if anything.
 */
export function within<T, L>(p: Promise<T>, ms: number, late: L): Promise<T | L> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<L>((resolve) => {
    timer = setTimeout(() => resolve(late), ms);
    timer.unref();
  });
  return Promise.race([p, bound]).finally(() => clearTimeout(timer));
}
