import { bindingsOf, renderWorker } from '../../domain/catalog/render.js';
import { GantryError } from '../../domain/errors.js';
import type { ControlContext } from '../context.js';
import type { Principal } from '../principal.js';
import type { TemplateInput } from '../serverless/workergroups.js';
import { getConfiguration } from './configurations.js';

/** What a deployment made from a configuration runs: the engine's worker template and its scaling bounds. */
export interface RenderedConfiguration {
  readonly configurationId: string;
  readonly configurationName: string;
  readonly executableId: string;
  readonly scenarioId: string;
  /**
   * What a worker runs: placeholders filled from the bindings (defaults for unbound parameters); the
   * container's command[0] as entrypoint, the rest of command and args as args; env as an object
   * (bound artifacts also as AICORE_ARTIFACT_<NAME> and, for file:// URLs, AICORE_ARTIFACT_<NAME>_PATH),
   * the first containerPort published, readiness by HTTP probe.
   */
  readonly template: TemplateInput;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly resourcePlan: string | null;
  /** From parameters modelName / modelVersion (AI Core's resolver reads details.resources.backendDetails.model); null without modelName. */
  readonly model: { readonly name: string; readonly version: string } | null;
}

/**
 * The configuration `configurationId` of group `resourceGroup` rendered for a deployment.
 * CONFIGURATION_NOT_FOUND when it is not the caller's; EXECUTABLE_NOT_FOUND when its executable was
 * removed since; ARTIFACT_NOT_FOUND when a bound artifact is gone; EXECUTABLE_CHANGED when the
 * executable now needs an input the configuration does not bind.
 */
export async function renderConfiguration(ctx: ControlContext, p: Principal, resourceGroup: string, configurationId: string): Promise<RenderedConfiguration> {
  const c = await getConfiguration(ctx, p, resourceGroup, configurationId);
  const exe = await ctx.store.getExecutable(c.accountId, c.executableId);
  if (!exe || exe.scenarioId !== c.scenarioId)
    throw new GantryError(
      'EXECUTABLE_NOT_FOUND',
      `Configuration '${c.id}' uses executable '${c.executableId}' of scenario '${c.scenarioId}', which no longer exists; load its serving template again.`,
      { configurationId: c.id, executableId: c.executableId, scenarioId: c.scenarioId },
    );
  const urls: Record<string, string> = {};
  for (const b of c.inputArtifactBindings) {
    const a = await ctx.store.getArtifact(c.accountId, c.resourceGroup, b.artifactId);
    if (!a)
      throw new GantryError('ARTIFACT_NOT_FOUND', `Configuration '${c.id}' binds artifact '${b.artifactId}', which no longer exists.`, {
        artifactId: b.artifactId,
      });
    urls[b.key] = a.url;
  }
  const w = renderWorker(exe, bindingsOf(exe, c, urls));
  const ports = w.port === null ? [] : [{ containerPort: w.port, proto: 'tcp' as const }];
  // parseEnv reads a key that starts with '-' as Docker flags: this publishes the container port.
  const published = w.port === null ? {} : { [`-p ${w.port}:${w.port}`]: '1' };
  return {
    configurationId: c.id,
    configurationName: c.name,
    executableId: exe.id,
    scenarioId: exe.scenarioId,
    template: {
      image: w.image,
      env: { ...w.env, ...published },
      onstart: null,
      entrypoint: w.entrypoint,
      args: w.args,
      diskGb: null,
      readiness: 'http',
      ports,
    },
    minReplicas: w.minReplicas,
    maxReplicas: w.maxReplicas,
    resourcePlan: w.resourcePlan,
    model: w.model,
  };
}
