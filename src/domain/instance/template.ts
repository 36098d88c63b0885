import { GantryError } from '../errors.js';
import { checkCommand, checkImage, MAX_DISK_GB, MAX_IMAGE_CHARS, MAX_ONSTART_CHARS } from './create.js';
import { parseEnv, type ParsedEnv, type PortSpec } from './env.js';
import type { InstanceTemplate } from './instance.js';

/**
 * A Vast template: a named, reusable set of create-instance defaults. An account sees its own templates
 * and the public ones. `hashId` names the content (Vast's content hash: it changes on edit, `id` does not).
 */
export interface TemplateSpec {
  readonly name: string | null;
  readonly image: string | null;
  readonly tag: string | null;
  /** Docker options as the clients send them (`-e K=V -p 8000:8000`). */
  readonly env: string | null;
  readonly onstart: string | null;
  /** `ssh`, `jupyter` or `args`. */
  readonly runtype: string;
  /** The main command's arguments in args mode (Vast's `args_str`). */
  readonly argsStr: string | null;
  readonly sshDirect: boolean;
  readonly jupDirect: boolean;
  readonly useSsh: boolean;
  readonly useJupyterLab: boolean;
  readonly jupyterDir: string | null;
  readonly dockerLoginRepo: string | null;
  /** Offer filters in Vast's JSON query form (`{"gpu_ram": {"gte": 23}}`): a workergroup's search. */
  readonly extraFilters: Readonly<Record<string, unknown>>;
  readonly recommendedDiskSpace: number | null;
  readonly readme: string | null;
  readonly readmeVisible: boolean;
  readonly desc: string | null;
  readonly href: string | null;
  readonly repo: string | null;
}

export interface TemplateRecord {
  readonly id: number;
  readonly accountId: number;
  readonly hashId: string;
  readonly private: boolean;
  readonly spec: TemplateSpec;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export const TEMPLATE_RUNTYPES = ['ssh', 'jupyter', 'args'] as const;
export const MAX_TEMPLATE_TEXT_CHARS = 65536;

function invalid(message: string, field: string): GantryError {
  return new GantryError('INVALID_ARGUMENT', message, { field });
}

/** Bounds a stored template must keep; the env string must parse as create would parse it. */
export function checkTemplateSpec(s: TemplateSpec): void {
  if (s.image !== null && (s.image.length === 0 || s.image.length > MAX_IMAGE_CHARS))
    throw invalid(`image must be 1 to ${MAX_IMAGE_CHARS} characters.`, 'image');
  // What an instance made from it would run must be an image reference, or every create from it fails to start.
  const launched = templateImage(s);
  if (launched !== null) checkImage(launched);
  if (s.onstart !== null && s.onstart.length > MAX_ONSTART_CHARS) throw invalid(`onstart may be at most ${MAX_ONSTART_CHARS} characters.`, 'onstart');
  checkCommand({ onstart: s.onstart, args: s.argsStr === null ? null : [s.argsStr] });
  if (!(TEMPLATE_RUNTYPES as readonly string[]).includes(s.runtype)) throw invalid(`runtype must be one of ${TEMPLATE_RUNTYPES.join(', ')}.`, 'runtype');
  if (s.recommendedDiskSpace !== null && (!Number.isFinite(s.recommendedDiskSpace) || s.recommendedDiskSpace <= 0 || s.recommendedDiskSpace > MAX_DISK_GB))
    throw invalid(`recommended_disk_space must be a positive number of GB, at most ${MAX_DISK_GB}.`, 'recommended_disk_space');
  for (const [field, v] of [
    ['readme', s.readme],
    ['desc', s.desc],
    ['name', s.name],
    ['env', s.env],
  ] as const) {
    if (v !== null && v.length > MAX_TEMPLATE_TEXT_CHARS) throw invalid(`${field} may be at most ${MAX_TEMPLATE_TEXT_CHARS} characters.`, field);
  }
  parseEnv(s.env);
}

/** The content a template's hash covers, in a fixed key order (the caller hashes it). */
export function templateContent(s: TemplateSpec): string {
  const keys = Object.keys(s).sort() as (keyof TemplateSpec)[];
  return JSON.stringify(keys.map((k) => [k, s[k]]));
}

/** The image reference a template launches: `image:tag` unless the image names a tag or digest already. */
export function templateImage(s: TemplateSpec): string | null {
  if (s.image === null) return null;
  if (s.tag === null || s.tag === '' || /[:@][^/]*$/.test(s.image)) return s.image;
  return `${s.image}:${s.tag}`;
}

/** Vast's launch mode for a template's runtype and direct flags (what the CLI would send without a template). */
export function templateRuntype(s: TemplateSpec): string {
  if (s.runtype === 'jupyter') return s.jupDirect ? 'jupyter_direc ssh_direc ssh_proxy' : 'jupyter_proxy ssh_proxy';
  if (s.runtype === 'ssh') return s.sshDirect ? 'ssh_direc ssh_proxy' : 'ssh_proxy';
  return 'args';
}

/** Template env under request env: variables merged by name (the request wins), ports joined without repeats. */
export function mergeEnv(template: ParsedEnv, request: ParsedEnv): ParsedEnv {
  const ports: PortSpec[] = [...template.ports];
  for (const p of request.ports) if (!ports.some((q) => q.containerPort === p.containerPort && q.proto === p.proto)) ports.push(p);
  return { env: { ...template.env, ...request.env }, ports };
}

/** What an instance made from the template records of it (the template may change or go later). */
export function instanceTemplateOf(t: TemplateRecord): InstanceTemplate {
  return { id: t.id, hashId: t.hashId, name: t.spec.name };
}
