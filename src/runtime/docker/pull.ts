import type Docker from 'dockerode';
import { pullProgressText, type PullEvent } from './engine-streams.js';
import { statusOf } from './labelled.js';

/**
 * Pull the image unless the engine has it, telling `say` the progress (shown in status_msg while it loads).
 * A pull that fails throws with the engine's own words (a registry unreachable, an image not there). One that
 * reports nothing for `stallMs` (a registry that stopped sending, an engine that lost the request) is given up:
 * it would have held every later start of its instance, which wait for the one under way.
 */
export async function ensureImage(docker: Docker, image: string, say: (msg: string) => void, stallMs: number): Promise<void> {
  try {
    await docker.getImage(image).inspect();
    return;
  } catch (err) {
    if (statusOf(err) !== 404) throw err;
  }
  say(`pulling image ${image}`);
  const layers = new Map<string, { current: number; total: number }>();
  let lastSaid = 0;
  // A failed pull is a stream that ends normally with an error event in it (Docker and Podman): its words are the reason.
  let engineSaid: string | null = null;
  const stalled = new AbortController();
  const watchdog = setTimeout(() => stalled.abort(new Error(`no progress for ${stallMs} ms`)), stallMs);
  try {
    const stream = await docker.pull(image, { abortSignal: stalled.signal });
    await new Promise<void>((resolve, reject) => {
      stalled.signal.addEventListener('abort', () => reject(stalled.signal.reason as Error), { once: true });
      docker.modem.followProgress(
        stream,
        (err: Error | null) => (err ? reject(err) : resolve()),
        (ev: PullEvent) => {
          watchdog.refresh();
          if (ev.error !== undefined) {
            engineSaid = ev.errorDetail?.message ?? ev.error;
            return;
          }
          const text = pullProgressText(image, layers, ev);
          if (text !== null && Date.now() - lastSaid >= 1000) {
            lastSaid = Date.now();
            say(text);
          }
        },
      );
    });
  } catch (err) {
    const why = stalled.signal.aborted ? (stalled.signal.reason as Error) : err;
    throw new Error(`image ${image} could not be pulled: ${why instanceof Error ? why.message : String(why)}`);
  } finally {
    clearTimeout(watchdog);
  }
  // An error event or none (some engines end a failed pull without one): the image must be there now.
  await docker
    .getImage(image)
    .inspect()
    .catch(() => {
      throw new Error(`image ${image} could not be pulled: ${engineSaid ?? 'not found after the pull'}`);
    });
}
