import type { ControlPlane } from '../../../control/control-plane.js';
import type { Principal } from '../../../control/principal.js';
import type { WorkergroupInput } from '../../../control/serverless/workergroups.js';
import { parseEnv } from '../../../domain/instance/env.js';
import { mergeEnv } from '../../../domain/instance/template.js';
import type { WorkerPlacement } from '../../../domain/offer/search.js';
import { templatePlacement } from './offers.js';
import { templateRefOf } from './templates.js';

/**
 * A workergroup or deployment body that names a template (`template_hash`, `template_id`; null means
 * none, as the CLI always sends it): the template's image, env, onstart, args, disk and offer filters
 * are the defaults, the body's own fields win (env merged by name).
 */
export async function withTemplateSource(control: ControlPlane, p: Principal, o: Record<string, unknown>, input: WorkergroupInput): Promise<WorkergroupInput> {
  const src = await control.templates.workergroupSource(p, templateRefOf(o));
  if (src === null) return input;
  const t = input.template;
  const merged = mergeEnv(parseEnv(src.template.env), parseEnv(t.env));
  const env: Record<string, string> = { ...merged.env };
  for (const port of merged.ports) env[`-p ${port.containerPort}:${port.containerPort}/${port.proto}`] = '1';
  return {
    ...input,
    template: {
      ...t,
      image: t.image ?? src.template.image,
      env,
      onstart: t.onstart ?? src.template.onstart,
      args: t.args ?? src.template.args,
      diskGb: t.diskGb ?? src.template.diskGb,
    },
    placement: withTemplateFilters(input.placement, templatePlacement(src.extraFilters)),
  };
}

/** Whether the body names a template (the clients send `template_hash: null` and `template_id: null` when not). */
export function templateNamed(o: Record<string, unknown>): boolean {
  const ref = templateRefOf(o);
  return ref.hashId !== null || ref.id !== null;
}

/**
 * The body's search (the CLIs always send one: `verified=True rentable=True rented=False` by default)
 * with the template's offer filters on the fields it does not name: Vast infers the search from the template.
 */
function withTemplateFilters(own: WorkerPlacement | null, template: WorkerPlacement | null): WorkerPlacement | null {
  if (own === null || template === null) return own ?? template;
  const named = new Set(own.conditions.map((c) => c.field));
  return { conditions: [...own.conditions, ...template.conditions.filter((c) => !named.has(c.field))] };
}
