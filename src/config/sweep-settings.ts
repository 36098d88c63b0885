/**
 * The host sweep's own bounds (src/control/loops/host-sweep.ts, decision 017): part of SETTINGS (schema.ts, which
 * checks their shape), kept here so that table stays short.
 */
export const SWEEP_SETTINGS = {
  sweepListWaitMs: {
    type: 'duration',
    default: 1_000,
    doc: "How long the host sweep waits for the hosts' listings before it compares those that answered; a host slower than this (an engine that hangs, a host that never answers) is compared on its own once its listing comes (within agentCallTimeoutMs), so it holds up only itself, and is not asked again meanwhile.",
  },
} as const;
