/**
 * The container engine the docker runtime drives (src/runtime/docker/, src/main/runtime.ts): part of SETTINGS
 * (schema.ts, which checks their shape), kept here so that table stays short.
 */
export const ENGINE_SETTINGS = {
  dockerHost: {
    type: 'optional-string',
    default: null,
    doc: 'Docker Engine API address (unix:///path or tcp://host:port); default: DOCKER_HOST, else /var/run/docker.sock.',
  },
  engineProbeTimeoutMs: {
    type: 'duration',
    min: 100,
    default: 2_000,
    doc: 'runtime auto: how long the container engine has to answer at start; one that does not answer in time is taken as absent, and the process runtime runs the workloads.',
  },
} as const;
