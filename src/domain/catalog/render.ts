import { GantryError } from '../errors.js';
import type { ConfigurationRecord, ExecutableSpec, KeyValue } from './records.js';
import { fillPlaceholders, type Placeholder } from './placeholders.js';
import { putEnvVar } from '../instance/env.js';

/** What a configuration binds, checked against its executable: every parameter has a value, every artifact a URL. */
export interface Bindings {
  readonly parameters: Readonly<Record<string, string>>;
  readonly artifacts: Readonly<Record<string, string>>;
}

/** A worker's process as the engine runs it: the container of the predictor with its placeholders filled. */
export interface RenderedWorker {
  readonly image: string;
  /** The container's `command[0]`; null: the image's own entrypoint. */
  readonly entrypoint: string | null;
  /** The rest of `command`, then `args`. */
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** The first `containerPort`; null when the template publishes none. */
  readonly port: number | null;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly resourcePlan: string | null;
  /** From the parameters `modelName` / `modelVersion` (AI Core's foundation-model resolver reads them); null without `modelName`. */
  readonly model: { readonly name: string; readonly version: string } | null;
}

function invalid(message: string, field: string): GantryError {
  return new GantryError('INVALID_ARGUMENT', message, { field });
}

/** `AICORE_ARTIFACT_<NAME>` with the artifact name upper-cased and anything else than letters and digits as `_`. */
export function artifactEnvName(name: string): string {
  return `AICORE_ARTIFACT_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** A `file://` URL's local path (what a worker on this host can open); null for other schemes. */
export function localPathOf(url: string): string | null {
  const m = /^file:\/\/(?:localhost)?(\/.*)$/.exec(url);
  if (!m) return null;
  try {
    return decodeURIComponent(m[1] as string);
  } catch {
    return m[1] as string;
  }
}

/**
 * The bindings of a new configuration, checked against its executable: a key the executable does not
 * declare, a key bound twice, a parameter without a default left unbound, an artifact left unbound:
 * INVALID_ARGUMENT naming the key. Artifact ids are the caller's to resolve (they live in a resource group).
 */
export function checkBindings(
  exe: ExecutableSpec,
  parameterBindings: readonly KeyValue[],
  artifactBindings: readonly { readonly key: string; readonly artifactId: string }[],
): void {
  const seen = new Set<string>();
  parameterBindings.forEach((b, i) => {
    const field = `parameterBindings[${i}].key`;
    if (!exe.parameters.some((p) => p.name === b.key))
      throw invalid(`Executable '${exe.id}' has no parameter '${b.key}' (it declares: ${exe.parameters.map((p) => p.name).join(', ') || 'none'}).`, field);
    if (seen.has(b.key)) throw invalid(`Parameter '${b.key}' is bound twice.`, field);
    seen.add(b.key);
  });
  for (const p of exe.parameters) {
    if (p.default === null && !seen.has(p.name)) throw invalid(`Parameter '${p.name}' of executable '${exe.id}' has no default; bind it.`, 'parameterBindings');
  }
  const arts = new Set<string>();
  artifactBindings.forEach((b, i) => {
    const field = `inputArtifactBindings[${i}].key`;
    if (!exe.inputArtifacts.some((a) => a.name === b.key))
      throw invalid(
        `Executable '${exe.id}' has no input artifact '${b.key}' (it declares: ${exe.inputArtifacts.map((a) => a.name).join(', ') || 'none'}).`,
        field,
      );
    if (arts.has(b.key)) throw invalid(`Input artifact '${b.key}' is bound twice.`, field);
    arts.add(b.key);
  });
  for (const a of exe.inputArtifacts) {
    if (!arts.has(a.name)) throw invalid(`Input artifact '${a.name}' of executable '${exe.id}' is not bound.`, 'inputArtifactBindings');
  }
}

/** The values a configuration gives its executable's inputs: bound values, then defaults. */
export function bindingsOf(exe: ExecutableSpec, c: Pick<ConfigurationRecord, 'parameterBindings'>, artifactUrls: Readonly<Record<string, string>>): Bindings {
  const parameters: Record<string, string> = {};
  for (const p of exe.parameters) if (p.default !== null) parameters[p.name] = p.default;
  for (const b of c.parameterBindings) parameters[b.key] = b.value;
  return { parameters, artifacts: artifactUrls };
}

/**
 * The predictor's container with its placeholders filled. A bound artifact also reaches the worker
 * as `AICORE_ARTIFACT_<NAME>` (its URL) and, for a `file://` URL, `AICORE_ARTIFACT_<NAME>_PATH`.
 * A placeholder without a value (the executable changed since the configuration was made) is
 * EXECUTABLE_CHANGED.
 */
export function renderWorker(exe: ExecutableSpec, b: Bindings): RenderedWorker {
  const value = (p: Placeholder): string | undefined => (p.kind === 'parameters' ? b.parameters[p.name] : b.artifacts[p.name]);
  const missing = (p: Placeholder): never => {
    throw new GantryError(
      'EXECUTABLE_CHANGED',
      `Executable '${exe.id}' uses {{inputs.${p.kind}.${p.name}}}, which the configuration gives no value; create a new configuration.`,
      { executableId: exe.id, placeholder: `inputs.${p.kind}.${p.name}` },
    );
  };
  const fill = (t: string): string => fillPlaceholders(t, value, missing);
  const c = exe.predictor;
  const env: Record<string, string> = {};
  for (const [name, url] of Object.entries(b.artifacts)) {
    env[artifactEnvName(name)] = url;
    const path = localPathOf(url);
    if (path !== null) env[`${artifactEnvName(name)}_PATH`] = path;
  }
  // As own properties: a variable named __proto__ is kept (env.ts putEnvVar).
  for (const e of c.env) putEnvVar(env, e.name, fill(e.value));
  const command = c.command.map(fill);
  const modelName = exe.parameters.some((p) => p.name === 'modelName') ? (b.parameters.modelName ?? null) : null;
  return {
    image: fill(c.image),
    entrypoint: command[0] ?? null,
    args: [...command.slice(1), ...c.args.map(fill)],
    env,
    port: c.ports[0]?.containerPort ?? null,
    minReplicas: c.minReplicas,
    maxReplicas: c.maxReplicas,
    resourcePlan: exe.resourcePlan,
    model: modelName === null ? null : { name: modelName, version: b.parameters.modelVersion ?? 'latest' },
  };
}
