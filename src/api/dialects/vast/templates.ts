import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ControlPlane } from '../../../control/control-plane.js';
import type { TemplateRef } from '../../../control/instances/templates.js';
import { GantryError } from '../../../domain/errors.js';
import type { TemplateRecord, TemplateSpec } from '../../../domain/instance/template.js';
import { showValue } from '../../../domain/show.js';
import { principal } from '../../edge/principal.js';
import { asObject, jsonParam, optBool, optId, optNumber, optString } from './parse.js';
import { numberOf } from '../../../domain/number.js';
import { templatePlacement } from './offers.js';

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, unknown> }>;

/** Said in every jupyter template's row: the mode is accepted, but no notebook server comes with it. */
export const JUPYTER_NOTE = 'Gantry starts no Jupyter server: jupyter launch modes run like ssh (onstart, then the instance stays up).';

/** How a create, launch, update or workergroup body names a template; null and absent alike mean none. */
export function templateRefOf(o: Record<string, unknown>): TemplateRef {
  const hash = optString(o, 'template_hash_id') ?? optString(o, 'template_hash');
  const id = optNumber(o, 'template_id');
  if (id !== null && (!Number.isSafeInteger(id) || id <= 0))
    throw new GantryError('INVALID_ARGUMENT', `'template_id' must be a positive integer.`, { field: 'template_id' });
  return { hashId: hash === null || hash === '' ? null : hash, id };
}

/** `env` as the clients send it (a Docker flag string), or an object turned into one. */
function envText(v: unknown): string | null {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && !Array.isArray(v)) {
    return Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => (k.startsWith('-') ? k : `-e ${k}=${JSON.stringify(String(x))}`))
      .join(' ');
  }
  throw new GantryError('INVALID_ARGUMENT', `'env' must be a string of Docker options, got ${showValue(v)}.`, { field: 'env' });
}

function filtersOf(v: unknown): Record<string, unknown> | null {
  const x = jsonParam(v);
  if (x === undefined || x === null || x === '') return null;
  if (typeof x !== 'object' || Array.isArray(x))
    throw new GantryError('INVALID_ARGUMENT', `'extra_filters' must be an object of offer filters.`, { field: 'extra_filters' });
  // Checked now, as a search checks them: a workergroup made from the template places its workers by them.
  templatePlacement(x as Record<string, unknown>);
  return x as Record<string, unknown>;
}

/** The template fields of a create or edit body; absent (or null) fields are undefined, so an edit keeps them. */
function specFields(o: Record<string, unknown>): Partial<TemplateSpec> {
  const str = (k: string): string | undefined => optString(o, k) ?? undefined;
  const bool = (k: string): boolean | undefined => optBool(o, k) ?? undefined;
  const disk = optNumber(o, 'recommended_disk_space');
  return {
    name: str('name'),
    image: str('image'),
    tag: str('tag'),
    env: envText(o.env) ?? undefined,
    onstart: str('onstart') ?? str('onstart_cmd'),
    runtype: str('runtype'),
    argsStr: str('args_str'),
    sshDirect: bool('ssh_direct'),
    jupDirect: bool('jup_direct'),
    useSsh: bool('use_ssh'),
    useJupyterLab: bool('use_jupyter_lab'),
    jupyterDir: str('jupyter_dir'),
    dockerLoginRepo: str('docker_login_repo'),
    extraFilters: filtersOf(o.extra_filters) ?? undefined,
    recommendedDiskSpace: disk ?? undefined,
    readme: str('readme'),
    readmeVisible: bool('readme_visible'),
    desc: str('desc'),
    href: str('href'),
    repo: str('repo'),
  };
}

const EMPTY: TemplateSpec = {
  name: null,
  image: null,
  tag: null,
  env: null,
  onstart: null,
  runtype: 'args',
  argsStr: null,
  sshDirect: false,
  jupDirect: false,
  useSsh: false,
  useJupyterLab: false,
  jupyterDir: null,
  dockerLoginRepo: null,
  extraFilters: {},
  recommendedDiskSpace: null,
  readme: null,
  readmeVisible: true,
  desc: null,
  href: null,
  repo: null,
};

/** A template row as Vast answers it (search, create, edit). */
export function vastTemplate(t: TemplateRecord): Record<string, unknown> {
  const s = t.spec;
  return {
    id: t.id,
    hash_id: t.hashId,
    creator_id: t.accountId,
    name: s.name,
    image: s.image,
    tag: s.tag,
    default_tag: s.tag,
    env: s.env,
    onstart: s.onstart,
    runtype: s.runtype,
    args_str: s.argsStr,
    ssh_direct: s.sshDirect,
    jup_direct: s.jupDirect,
    use_ssh: s.useSsh,
    use_jupyter_lab: s.useJupyterLab,
    jupyter_dir: s.jupyterDir,
    docker_login_repo: s.dockerLoginRepo,
    extra_filters: s.extraFilters,
    recommended_disk_space: s.recommendedDiskSpace,
    readme: s.readme,
    readme_visible: s.readmeVisible,
    desc: s.desc,
    href: s.href,
    repo: s.repo,
    private: t.private,
    recommended: false,
    count_created: 0,
    created_at: t.createdAt / 1000,
    recent_create_date: null,
    ...(s.runtype === 'jupyter' ? { note: JUPYTER_NOTE } : {}),
  };
}

const num = (v: unknown): number | null => {
  const n = numberOf(v);
  return Number.isFinite(n) ? n : null;
};
/** The legacy CLI sends a string value with '_' for ' ' (its query language has no spaces): compare both ways. */
const text = (v: unknown): string => String(v).replace(/_/g, ' ');

function holds(row: unknown, op: string, want: unknown): boolean {
  if (op === 'in' || op === 'notin') {
    const list = Array.isArray(want) ? want : [want];
    const hit = list.some((w) => holds(row, 'eq', w));
    return op === 'in' ? hit : !hit;
  }
  const a = num(row);
  const b = num(want);
  const numeric = a !== null && b !== null && typeof row !== 'boolean';
  const cmp = numeric ? a - b : text(row) < text(want) ? -1 : text(row) > text(want) ? 1 : 0;
  if (op === 'eq') return typeof want === 'boolean' || want === null ? row === want : cmp === 0;
  if (op === 'neq') return typeof want === 'boolean' || want === null ? row !== want : cmp !== 0;
  if (row === null || row === undefined) return false;
  if (op === 'gt') return cmp > 0;
  if (op === 'gte') return cmp >= 0;
  if (op === 'lt') return cmp < 0;
  if (op === 'lte') return cmp <= 0;
  throw new GantryError('INVALID_QUERY', `Unknown operator '${op}'; use eq, neq, lt, lte, gt, gte, in or notin.`);
}

/** `select_filters` (`{"field": {"op": value}}`) over template rows; a field rows do not have matches nothing. */
export function filterTemplates(rows: Record<string, unknown>[], filters: unknown): Record<string, unknown>[] {
  const f = jsonParam(filters);
  if (f === undefined || f === null || f === '') return rows;
  if (typeof f !== 'object' || Array.isArray(f)) throw new GantryError('INVALID_QUERY', `'select_filters' must be an object of {"field": {"op": value}}.`);
  const terms: [string, string, unknown][] = [];
  for (const [field, spec] of Object.entries(f as Record<string, unknown>)) {
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) terms.push([field, 'eq', spec]);
    else for (const [op, v] of Object.entries(spec as Record<string, unknown>)) terms.push([field, op, v]);
  }
  return rows.filter((r) => terms.every(([field, op, v]) => holds(r[field], op, v)));
}

/** Vast's template routes: search (`GET /template/`), create (POST), edit by hash (PUT), delete by hash or id (DELETE). */
export function vastTemplateRoutes(app: FastifyInstance, control: ControlPlane): void {
  const tp = control.templates;
  app.get('/api/v0/template', async (req: Req) => {
    const rows = filterTemplates((await tp.list(principal(req))).map(vastTemplate), req.query.select_filters);
    return { success: true, templates_found: rows.length, templates: rows };
  });
  app.post('/api/v0/template', async (req) => {
    const o = asObject(req.body);
    const given = Object.fromEntries(Object.entries(specFields(o)).filter(([, v]) => v !== undefined));
    const spec: TemplateSpec = { ...EMPTY, ...given };
    const t = await tp.create(principal(req), spec, optBool(o, 'private') ?? true);
    return { success: true, msg: `Template ${t.hashId} (id ${t.id}) is ready.`, template: vastTemplate(t) };
  });
  app.put('/api/v0/template', async (req) => {
    const o = asObject(req.body);
    // No hash_id: the use case answers MISSING_INPUT once the key's scope is checked.
    const t = await tp.update(principal(req), optString(o, 'hash_id'), specFields(o), optBool(o, 'private'));
    return { success: true, msg: `Template ${t.id} updated; its hash is now ${t.hashId}.`, template: vastTemplate(t) };
  });
  app.delete('/api/v0/template', async (req) => {
    const o = asObject(req.body);
    const ref: TemplateRef = { hashId: optString(o, 'hash_id'), id: optId(o, 'template_id', 'template id') };
    const t = await tp.delete(principal(req), ref);
    return { success: true, msg: `Template ${t.hashId} (id ${t.id}) deleted.` };
  });
}
