/**
 * The process runtime's isolation (src/runtime/process/sandbox.ts, src/main/runtime.ts): part of SETTINGS
 * (schema.ts, which checks their shape), kept here so that table stays short.
 */
export const SANDBOX_SETTINGS = {
  processSandbox: {
    type: 'string',
    default: 'auto',
    flag: '--process-sandbox',
    doc: 'Process runtime isolation: bwrap (each instance in a bubblewrap sandbox, as its own uid when Gantry is root), off, or auto (bwrap when a trial sandbox runs). See README "Isolation".',
  },
  sandboxUidBase: {
    type: 'integer',
    default: 1_000_000_000,
    doc: 'Gantry as root: instance N runs as host uid/gid sandboxUidBase + N. Give each Gantry on one machine its own base: the first data dir to run workloads with a base claims it (a file in /run/lock) while that data dir exists, and another install with the same base refuses to start, naming it.',
  },
  sandboxProbeTimeoutMs: { type: 'duration', default: 10_000, doc: 'Bound on the trial sandbox run at start (processSandbox auto or bwrap).' },
  unsafeSharedProcessRuntime: {
    type: 'boolean',
    default: false,
    flag: '--unsafe-shared-process-runtime',
    doc: "Let this host take instances of any account although its workloads are not isolated (no sandbox). Without it such a host takes only its owner's instances.",
  },
} as const;
