/**
 * Where a code deployment's worker is in Vast's bootstrap (decision 020), read from the lines the
 * bootstrap (`serve_deployment`) and Vast's worker library print: they report nothing of it to the
 * engine until the worker is loaded (its /worker_status/ has no phase), so its own output is the truth.
 */
export type BootstrapPhase = 'downloading' | 'installing' | 'loading_contexts' | 'benchmarking' | 'ready' | 'failed';

/** Each phase begins with one of these lines (later lines win); the texts are the SDK's own. */
const MARKERS: readonly (readonly [string, BootstrapPhase])[] = [
  ['Fetching download URL for deployment', 'downloading'],
  ['Downloading deployment tarball', 'downloading'],
  ['Extracting deployment tarball', 'downloading'],
  ['Exporting ', 'installing'],
  ['Installing ', 'installing'],
  ['Running ', 'installing'],
  ['Starting deployment worker:', 'loading_contexts'],
  ['Running benchmark', 'benchmarking'],
  ['Model marked as loaded', 'ready'],
  ['Lifecycle startup failed', 'failed'],
  ['Worker Server failed to launch', 'failed'],
  ['Traceback (most recent call last)', 'failed'],
];

/** The phase the last marked line says, or null when none is there yet (the bootstrap has not begun). */
export function bootstrapPhase(output: string): BootstrapPhase | null {
  let phase: BootstrapPhase | null = null;
  for (const line of output.split('\n')) {
    for (const [marker, p] of MARKERS) {
      // "Running N setup scripts" is the bootstrap's; the library's "Running benchmark" has its own marker.
      if (marker === 'Running ' && !/Running \d+ setup scripts/.test(line)) continue;
      if (marker === 'Installing ' && !/Installing \d+ (apt|pip|npm) packages/.test(line)) continue;
      if (marker === 'Exporting ' && !/Exporting \d+ environment variables/.test(line)) continue;
      if (line.includes(marker)) {
        phase = p;
        break;
      }
    }
  }
  return phase;
}
