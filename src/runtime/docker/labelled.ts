import type Docker from 'dockerode';

/** Every container of this runtime carries its runtime id and its instance's id. */
export const LABEL_RUNTIME = 'gantry.runtime-id';
export const LABEL_INSTANCE = 'gantry.instance-id';

/** Container states with no process to stop. */
const AT_REST: ReadonlySet<string> = new Set(['created', 'exited', 'dead', 'removing']);

/** The HTTP status of an Engine API error (404: no such container, 304: already stopped). */
export const statusOf = (e: unknown): number | undefined => (e as { statusCode?: number } | null)?.statusCode;

/** The containers labelled as one instance of this runtime, whatever their name (one made by hand, or left under an older name). */
export async function labelledAs(docker: Docker, runtimeId: string, id: number): Promise<Docker.ContainerInfo[]> {
  // One label in the filter (engines differ on how they combine two), the instance's checked here.
  const ours = await docker.listContainers({ all: true, filters: { label: [`${LABEL_RUNTIME}=${runtimeId}`] } });
  return ours.filter((c) => c.Labels[LABEL_INSTANCE] === String(id));
}

/**
 * The instances of a listing (every container of the runtime) with a container labelled as the instance
 * that is not its own (named by `nameOf`) and not at rest (running, paused, restarting): one made by hand.
 */
export function withStrays(containers: readonly Docker.ContainerInfo[], nameOf: (id: number) => string): number[] {
  const ids = new Set<number>();
  for (const c of containers) {
    const id = Number(c.Labels[LABEL_INSTANCE]);
    if (!Number.isSafeInteger(id) || id <= 0 || AT_REST.has(c.State)) continue;
    if (!c.Names.includes(`/${nameOf(id)}`)) ids.add(id);
  }
  return [...ids];
}

/**
 * Stop the running containers labelled as the instance other than the one named `name` (which the
 * runtime stops itself), each as `docker stop -t` does: none keeps running, and billing, after a stop.
 */
export async function stopOthersLabelled(docker: Docker, runtimeId: string, id: number, name: string, t: number): Promise<void> {
  // Paused and restarting ones too: whatever is not at rest.
  const others = (await labelledAs(docker, runtimeId, id)).filter((c) => !AT_REST.has(c.State) && !c.Names.includes(`/${name}`));
  await Promise.all(others.map((c) => stopContainer(docker, c.Id, t)));
}

/**
 * `docker stop -t` that also ends a paused container (one paused by hand with `podman pause`): Podman
 * refuses to stop it (500 "container state improper"), and in Docker its SIGTERM would wait in the frozen
 * cgroup until the SIGKILL. So it is thawed first and then stopped as any other, SIGTERM first. Resolves
 * once the engine says it stopped (or it is gone, 404, or was not running, 304).
 */
export async function stopContainer(docker: Docker, ref: string, t: number): Promise<void> {
  const c = docker.getContainer(ref);
  const stop = (): Promise<void> =>
    c.stop({ t }).then(
      () => undefined,
      (err: unknown) => {
        const sc = statusOf(err);
        if (sc !== 304 && sc !== 404) throw err;
      },
    );
  const paused = (): Promise<boolean> =>
    c.inspect().then(
      (info) => info.State.Paused,
      () => false,
    );
  if (await paused()) await unpause(c);
  try {
    await stop();
  } catch (err) {
    // Paused between the look and the stop: thawed, and stopped once more.
    if (!(await paused())) throw err;
    await unpause(c);
    await stop();
  }
}

/** Thaw a paused container; one another caller thawed meanwhile (Podman: 500 "not paused") or removed (404) is no error. */
async function unpause(c: Docker.Container): Promise<void> {
  await c.unpause().catch(async (err: unknown) => {
    if (statusOf(err) === 404) return;
    const still = await c.inspect().then(
      (info) => info.State.Paused,
      () => false,
    );
    if (still) throw err;
  });
}

/** Remove the named container and every other labelled as the instance, with their anonymous volumes. */
export async function removeLabelled(docker: Docker, runtimeId: string, id: number, name: string): Promise<void> {
  const others = (await labelledAs(docker, runtimeId, id)).map((c) => c.Id);
  for (const ref of new Set([name, ...others])) {
    await docker
      .getContainer(ref)
      .remove({ force: true, v: true })
      .catch((err: unknown) => {
        if (statusOf(err) !== 404) throw err;
      });
  }
}
