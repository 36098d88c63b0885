import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ControlPlane } from '../../../control/control-plane.js';
import { GantryError } from '../../../domain/errors.js';
import type { CreateInstanceRequest } from '../../../domain/instance/create.js';
import { parseEnv, shellSplit } from '../../../domain/instance/env.js';
import { mergeEnv } from '../../../domain/instance/template.js';
import { principal } from '../../edge/principal.js';
import { parseVastSearch } from './offers.js';
import { asObject, optString, parseCreateInstance, parseId } from './parse.js';
import { templateRefOf } from './templates.js';

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, unknown> }>;

/** `args` as `update instance` sends it: one string (legacy CLI) or a list. */
function argsOf(v: unknown): string[] | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return shellSplit(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  throw new GantryError('INVALID_ARGUMENT', "'args' must be a string or a list of strings.", { field: 'args' });
}

/**
 * The instance verbs that read templates besides create (`PUT /asks/{id}/`, in plugin.ts): bulk create (`POST /asks/bulk/`, the SDK's and `vastai create instances`), launch
 * (`PUT /launch_instance/`: search and create in one call) and update from a template
 * (`PUT /instances/update_template/{id}/`).
 */
export function vastTemplateInstanceRoutes(app: FastifyInstance, control: ControlPlane): void {
  const tp = control.templates;

  app.post('/api/v0/asks/bulk', async (req) => {
    const p = principal(req);
    const body = asObject(req.body);
    const template = await tp.resolve(p, templateRefOf(body), 'instance.create');
    if (!Array.isArray(body.ids)) throw new GantryError('INVALID_ARGUMENT', "'ids' must be a list of offer ids.", { field: 'ids' });
    const ids = body.ids.map((x) => parseId(x, 'offer id'));
    const results = await tp.createInstances(p, ids, (offer) => parseCreateInstance(offer, body, template));
    return {
      success: results.every((r) => r.ok),
      new_contracts: results.flatMap((r) => (r.instanceId !== null ? [r.instanceId] : [])),
      results: results.map((r) =>
        r.ok ? { id: r.id, success: true, new_contract: r.instanceId } : { id: r.id, success: false, error: r.error?.code, msg: r.error?.message },
      ),
    };
  });

  app.put('/api/v0/launch_instance', async (req) => {
    const p = principal(req);
    const body = asObject(req.body);
    const template = await tp.resolve(p, templateRefOf(body), 'instance.create');
    const search = parseVastSearch(body.q ?? {});
    const created = await tp.launchInstance(p, search, (offer) => parseCreateInstance(offer, body, template));
    return { success: true, new_contract: created.instance.id, instance_api_key: created.instanceApiKey };
  });

  app.put('/api/v0/instances/update_template/:id', async (req: Req) => {
    const p = principal(req);
    const id = parseId(req.params.id);
    const o = asObject(req.body);
    const template = await tp.resolve(p, templateRefOf(o), 'instance.manage', id);
    const inst = await tp.updateInstance(p, id, (cur): CreateInstanceRequest => {
      // The template's fields replace the instance's; the fields given replace both (env merged by name).
      const base: CreateInstanceRequest =
        template !== null
          ? parseCreateInstance(cur.id, {}, template)
          : {
              offerId: cur.id,
              image: cur.image,
              diskGb: cur.diskGb,
              env: { env: cur.env, ports: [] },
              onstart: cur.onstart,
              entrypoint: cur.entrypoint,
              args: cur.args,
              runtype: cur.runtype,
              label: cur.label,
              targetState: 'running',
              offerType: cur.offerType,
              bidPrice: cur.bidPrice,
            };
      return {
        ...base,
        image: optString(o, 'image') ?? base.image,
        env: o.env !== undefined && o.env !== null ? mergeEnv(base.env, parseEnv(o.env)) : base.env,
        onstart: optString(o, 'onstart') ?? base.onstart,
        args: argsOf(o.args) ?? base.args,
      };
    });
    // What changed, from the written row (reading the full instance row would need instance_read as well).
    const updated = {
      id: inst.id,
      image_uuid: inst.image,
      image_runtype: inst.runtype,
      onstart: inst.onstart,
      entrypoint: inst.entrypoint,
      image_args: inst.args ?? [],
      extra_env: Object.entries(inst.env),
      intended_status: inst.target,
    };
    return { success: true, updated_instance: updated };
  });
}
