/** The Podman API service `scripts/run-tests.mjs` starts for the run (or why it could not). */
export function dockerSkip(): string | false {
  if (process.env.GANTRY_TEST_DOCKER_HOST !== undefined) return false;
  return process.env.GANTRY_TEST_DOCKER_SKIP ?? 'no container engine for tests (run through npm test)';
}

export function testDockerHost(): string {
  return process.env.GANTRY_TEST_DOCKER_HOST ?? 'unix:///nonexistent';
}

/** The busybox image built from a local tarball; the process runtime ignores images. */
export function testImage(): string {
  return process.env.GANTRY_TEST_IMAGE ?? 'local/shell';
}
