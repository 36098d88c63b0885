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
 * Stop the running containers labelled as the instance other than the one named `name` (which the
 * runtime stops itself), each as `docker stop -t` does: none keeps running, and billing, after a stop.
 */
export async function stopOthersLabelled(docker: Docker, runtimeId: string, id: number, name: string, t: number): Promise<void> {
  // Paused and restarting ones too: whatever is not at rest.
  const others = (await labelledAs(docker, runtimeId, id)).filter((c) => !AT_REST.has(c.State) && !c.Names.includes(`/${name}`));
  await Promise.all(
    others.map((c) =>
      docker
        .getContainer(c.Id)
        .stop({ t })
        .catch((err: unknown) => {
          const sc = statusOf(err);
          if (sc !== 304 && sc !== 404) throw err;
        }),
    ),
  );
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
