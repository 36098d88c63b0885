import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// A full collection on demand, so that what is sampled is what a reader keeps, not garbage not yet collected.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Bytes this process keeps alive now (heap and buffers), after a full collection. */
export function liveMemory(): number {
  gc();
  const m = process.memoryUsage();
  return m.arrayBuffers + m.heapUsed;
}
