import { createHash } from 'node:crypto';
import { GantryError } from '../../domain/errors.js';
import { shellSplit } from '../../domain/instance/env.js';
import { checkTemplateSpec, templateContent, templateImage, type TemplateRecord, type TemplateSpec } from '../../domain/instance/template.js';
import type { Action } from '../../domain/account/actions.js';
import type { ControlContext } from '../context.js';
import { authorize, type Principal } from '../principal.js';

/** How a request names a template: Vast's content hash or its numeric id (either may be absent). */
export interface TemplateRef {
  readonly hashId: string | null;
  readonly id: number | null;
}

/** Vast's hash_id: 32 hex digits naming the content (md5 as a name, not for security), so an edit changes it. */
export function templateHash(spec: TemplateSpec, isPrivate: boolean): string {
  return createHash('md5')
    .update(templateContent(spec) + (isPrivate ? ':private' : ':public'))
    .digest('hex');
}

function notFound(ref: TemplateRef, whose = ''): GantryError {
  const what = ref.hashId !== null ? `hash ${ref.hashId}` : `id ${String(ref.id)}`;
  return new GantryError('TEMPLATE_NOT_FOUND', `No${whose} template with ${what}; search templates for the ones you can use.`, {
    ...(ref.hashId !== null ? { hashId: ref.hashId } : { templateId: ref.id }),
  });
}

/** A template the caller may use: its own or a public one; null when the ref names none. */
async function visible(ctx: ControlContext, p: Principal, ref: TemplateRef): Promise<TemplateRecord | null> {
  if (ref.hashId !== null) return (await ctx.store.findTemplatesByHash(ref.hashId, p.accountId))[0] ?? null;
  if (ref.id !== null) {
    const t = await ctx.store.getTemplate(ref.id);
    return t !== undefined && (t.accountId === p.accountId || !t.private || p.isAdmin) ? t : null;
  }
  return null;
}

/**
 * The template a create, launch, update or workergroup names, for the action the caller is doing (the
 * template is part of that request: no scope of its own is asked). Null when the request names none.
 */
export async function resolveTemplate(
  ctx: ControlContext,
  p: Principal,
  ref: TemplateRef,
  action: Extract<Action, 'instance.create' | 'instance.manage' | 'serverless.write' | 'template.read'>,
  instanceId: number | null = null,
): Promise<TemplateRecord | null> {
  authorize(p, action, instanceId === null ? null : { kind: 'instance', id: instanceId });
  if (ref.hashId === null && ref.id === null) return null;
  const t = await visible(ctx, p, ref);
  if (t === null) throw notFound(ref);
  return t;
}

/** The account's own templates and the public ones. */
export async function listTemplates(ctx: ControlContext, p: Principal): Promise<TemplateRecord[]> {
  authorize(p, 'template.read');
  return ctx.store.listVisibleTemplates(p.accountId);
}

/** As on Vast, creating a template the account already has (same content) answers that one. */
export async function createTemplate(ctx: ControlContext, p: Principal, spec: TemplateSpec, isPrivate: boolean): Promise<TemplateRecord> {
  authorize(p, 'template.write');
  if (spec.image === null) throw new GantryError('MISSING_INPUT', "'image' is required.", { field: 'image' });
  checkTemplateSpec(spec);
  const hashId = templateHash(spec, isPrivate);
  const same = (await ctx.store.findTemplatesByHash(hashId, p.accountId)).find((t) => t.accountId === p.accountId);
  if (same !== undefined) return same;
  const t = await ctx.store.createTemplate({
    accountId: p.accountId,
    hashId,
    private: isPrivate,
    spec,
    now: ctx.clock.now(),
    // Its public ones are listed in every account's template search; an admin is not bound.
    maxPerAccount: p.isAdmin ? 0 : ctx.settings.maxTemplatesPerAccount,
  });
  ctx.log.info({ templateId: t.id, hashId }, 'template created');
  return t;
}

async function own(ctx: ControlContext, p: Principal, ref: TemplateRef): Promise<TemplateRecord> {
  authorize(p, 'template.write');
  if (ref.hashId === null && ref.id === null) throw new GantryError('MISSING_INPUT', 'Name the template by hash_id or template_id.', { field: 'hash_id' });
  const t =
    ref.hashId !== null
      ? (await ctx.store.findTemplatesByHash(ref.hashId, p.accountId)).find((x) => x.accountId === p.accountId)
      : ref.id !== null
        ? await ctx.store.getTemplate(ref.id)
        : undefined;
  if (t === undefined || (t.accountId !== p.accountId && !p.isAdmin)) throw notFound(ref, ' own');
  return t;
}

/** Edit in place: the fields given replace the stored ones, the id stays and the hash follows the content. */
export async function updateTemplate(
  ctx: ControlContext,
  p: Principal,
  hashId: string | null,
  patch: Partial<TemplateSpec>,
  isPrivate: boolean | null,
): Promise<TemplateRecord> {
  const t = await own(ctx, p, { hashId, id: null });
  const given = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined && v !== null)) as Partial<TemplateSpec>;
  const spec: TemplateSpec = { ...t.spec, ...given };
  checkTemplateSpec(spec);
  const priv = isPrivate ?? t.private;
  const next = templateHash(spec, priv);
  if (!(await ctx.store.updateTemplate(t.id, { hashId: next, private: priv, spec, now: ctx.clock.now() }))) throw notFound({ hashId: t.hashId, id: null });
  ctx.log.info({ templateId: t.id, from: hashId, to: next }, 'template updated');
  return (await ctx.store.getTemplate(t.id)) as TemplateRecord;
}

/** Hides the template from searches and new creates; instances made from it keep what they run. */
export async function deleteTemplate(ctx: ControlContext, p: Principal, ref: TemplateRef): Promise<TemplateRecord> {
  const t = await own(ctx, p, ref);
  await ctx.store.deleteTemplate(t.id, ctx.clock.now());
  ctx.log.info({ templateId: t.id }, 'template deleted');
  return t;
}

/** What a workergroup takes from a template: the worker template's fields (TemplateInput's shape) and its offer filters. */
export interface WorkergroupSource {
  readonly template: {
    readonly image: string | null;
    readonly env: string | null;
    readonly onstart: string | null;
    readonly entrypoint: string | null;
    readonly args: readonly string[] | null;
    readonly diskGb: number | null;
  };
  /** Vast's JSON filters (`{"gpu_ram": {"gte": 23}}`): the dialect compiles them into a placement. */
  readonly extraFilters: Readonly<Record<string, unknown>>;
}

/**
 * The template a workergroup names (`template_hash` or `template_id`) as its source, or null when it
 * names none. The workergroup's own fields win over it; the caller merges (see the Vast dialect).
 */
export async function workergroupSource(ctx: ControlContext, p: Principal, ref: TemplateRef): Promise<WorkergroupSource | null> {
  const t = await resolveTemplate(ctx, p, ref, 'serverless.write');
  if (t === null) return null;
  const s = t.spec;
  return {
    template: {
      image: templateImage(s),
      env: s.env,
      onstart: s.onstart,
      entrypoint: null,
      args: s.runtype === 'args' && s.argsStr !== null ? shellSplit(s.argsStr) : null,
      diskGb: s.recommendedDiskSpace,
    },
    extraFilters: s.extraFilters,
  };
}
