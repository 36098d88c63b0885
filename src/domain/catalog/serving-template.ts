import { GantryError } from '../errors.js';
import type { ExecutableSpec, KeyValue, Predictor, TemplateArtifact, TemplateParameter } from './records.js';
import { placeholdersIn } from './placeholders.js';

/**
 * Reading SAP's ServingTemplate (`kind: ServingTemplate`) into an executable. The YAML text itself is
 * parsed by the caller (the domain imports no package); `spec.template.spec`, `.metadata.labels` and
 * `.metadata.annotations` are YAML strings inside the document, so the caller hands in its reader.
 * Every problem is TEMPLATE_INVALID naming the file and the field.
 */
export type YamlReader = (text: string) => unknown;

/** AI Core's id rule for scenarios and executables. */
export const CATALOG_ID = /^[\w.-]{4,64}$/;
const PARAM_NAME = /^[\w.-]{1,256}$/;
const EXT_LABEL = /^ext\.ai\.sap\.com\/[\w.-]+$/;

export function templateError(file: string, field: string, problem: string): GantryError {
  return new GantryError('TEMPLATE_INVALID', `${file}: ${field} ${problem}`, { file, field });
}

type Obj = Readonly<Record<string, unknown>>;

class Reader {
  constructor(
    readonly file: string,
    readonly yaml: YamlReader,
  ) {}

  fail(field: string, problem: string): never {
    throw templateError(this.file, field, problem);
  }

  obj(v: unknown, field: string, required: boolean): Obj | null {
    if (v === undefined || v === null) return required ? this.fail(field, 'is required') : null;
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(field, 'must be a mapping');
    return v as Obj;
  }

  /** A mapping that templates write as a YAML string (KServe fields under `spec.template`). */
  embedded(v: unknown, field: string, required: boolean): Obj | null {
    if (typeof v !== 'string') return this.obj(v, field, required);
    let parsed: unknown;
    try {
      parsed = this.yaml(v);
    } catch (err) {
      this.fail(field, `does not parse as YAML (${err instanceof Error ? (err.message.split('\n')[0] ?? '').replace(/:$/, '') : String(err)})`);
    }
    return this.obj(parsed, field, required);
  }

  list(v: unknown, field: string): readonly unknown[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.fail(field, 'must be a list');
    return v as unknown[];
  }

  /** Scalars as AI Core keeps them: strings (YAML may write `1.0` or `true` unquoted). */
  str(v: unknown, field: string, required: true): string;
  str(v: unknown, field: string, required: false): string | null;
  str(v: unknown, field: string, required: boolean): string | null {
    if (v === undefined || v === null) return required ? this.fail(field, 'is required') : null;
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    return this.fail(field, 'must be a string');
  }

  strings(v: unknown, field: string): string[] {
    if (typeof v === 'string') return [v];
    return this.list(v, field).map((x, i) => this.str(x, `${field}[${i}]`, true));
  }

  int(v: unknown, field: string, fallback: number, min: number, max: number): number {
    if (v === undefined || v === null) return fallback;
    const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) this.fail(field, `must be an integer from ${min} to ${max}`);
    return n;
  }

  id(v: unknown, field: string): string {
    const s = this.str(v, field, true);
    if (!CATALOG_ID.test(s)) this.fail(field, `'${s}' must be 4-64 letters, digits, '_', '.' or '-'`);
    return s;
  }
}

function stringMap(r: Reader, o: Obj | null, field: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o ?? {})) out[k] = r.str(v, `${field}.${k}`, true);
  return out;
}

function readParameters(r: Reader, v: unknown): TemplateParameter[] {
  const seen = new Set<string>();
  return r.list(v, 'spec.inputs.parameters').map((p, i) => {
    const f = `spec.inputs.parameters[${i}]`;
    const o = r.obj(p, f, true) as Obj;
    const name = r.str(o.name, `${f}.name`, true);
    if (!PARAM_NAME.test(name)) r.fail(`${f}.name`, `'${name}' must be letters, digits, '_', '.' or '-'`);
    if (seen.has(name)) r.fail(`${f}.name`, `'${name}' is declared twice`);
    seen.add(name);
    const type = r.str(o.type, `${f}.type`, false);
    if (type !== null && type !== 'string') r.fail(`${f}.type`, `must be 'string' (AI Core parameters are strings), not '${type}'`);
    return { name, default: r.str(o.default, `${f}.default`, false), type: 'string', description: r.str(o.description, `${f}.description`, false) };
  });
}

function readArtifacts(r: Reader, v: unknown, annotations: Record<string, string>): TemplateArtifact[] {
  const seen = new Set<string>();
  return r.list(v, 'spec.inputs.artifacts').map((a, i) => {
    const f = `spec.inputs.artifacts[${i}]`;
    const o = r.obj(a, f, true) as Obj;
    const name = r.str(o.name, `${f}.name`, true);
    if (!PARAM_NAME.test(name)) r.fail(`${f}.name`, `'${name}' must be letters, digits, '_', '.' or '-'`);
    if (seen.has(name)) r.fail(`${f}.name`, `'${name}' is declared twice`);
    seen.add(name);
    return {
      name,
      kind: annotations[`artifacts.ai.sap.com/${name}.kind`] ?? null,
      description: r.str(o.description, `${f}.description`, false) ?? annotations[`artifacts.ai.sap.com/${name}.description`] ?? null,
    };
  });
}

function readPredictor(r: Reader, spec: Obj): Predictor {
  const P = 'spec.template.spec.predictor';
  const pred = r.obj(spec.predictor, P, true) as Obj;
  const containers = r.list(pred.containers, `${P}.containers`);
  if (containers.length === 0) r.fail(`${P}.containers`, 'must hold one container');
  if (containers.length > 1) r.fail(`${P}.containers`, 'may hold only one container (Gantry runs one process per worker)');
  const C = `${P}.containers[0]`;
  const c = r.obj(containers[0], C, true) as Obj;
  const image = r.str(c.image, `${C}.image`, true);
  if (image.trim() === '') r.fail(`${C}.image`, 'is required');
  const minReplicas = r.int(pred.minReplicas, `${P}.minReplicas`, 1, 0, 1000);
  const maxReplicas = r.int(pred.maxReplicas, `${P}.maxReplicas`, Math.max(minReplicas, 1), 1, 1000);
  if (maxReplicas < minReplicas) r.fail(`${P}.maxReplicas`, `(${maxReplicas}) is below minReplicas (${minReplicas})`);
  const env = r.list(c.env, `${C}.env`).map((e, i) => {
    const o = r.obj(e, `${C}.env[${i}]`, true) as Obj;
    const name = r.str(o.name, `${C}.env[${i}].name`, true);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) r.fail(`${C}.env[${i}].name`, `'${name}' is not an environment variable name`);
    if (o.valueFrom !== undefined) r.fail(`${C}.env[${i}].valueFrom`, 'is not supported (use value)');
    return { name, value: r.str(o.value, `${C}.env[${i}].value`, false) ?? '' };
  });
  const ports = r.list(c.ports, `${C}.ports`).map((p, i) => {
    const o = r.obj(p, `${C}.ports[${i}]`, true) as Obj;
    const containerPort = r.int(o.containerPort, `${C}.ports[${i}].containerPort`, NaN, 1, 65535);
    if (Number.isNaN(containerPort)) r.fail(`${C}.ports[${i}].containerPort`, 'is required');
    const protocol = (r.str(o.protocol, `${C}.ports[${i}].protocol`, false) ?? 'TCP').toUpperCase();
    if (protocol !== 'TCP' && protocol !== 'UDP') r.fail(`${C}.ports[${i}].protocol`, `must be TCP or UDP`);
    return { containerPort, protocol: protocol === 'UDP' ? ('UDP' as const) : ('TCP' as const) };
  });
  return {
    minReplicas,
    maxReplicas,
    image: image.trim(),
    command: r.strings(c.command, `${C}.command`),
    args: r.strings(c.args, `${C}.args`),
    env,
    ports,
    resources: c.resources ?? null,
  };
}

/** Every `{{inputs.parameters.X}}` / `{{inputs.artifacts.X}}` must name a declared input. */
function checkPlaceholders(r: Reader, p: Predictor, params: readonly TemplateParameter[], arts: readonly TemplateArtifact[]): void {
  const C = 'spec.template.spec.predictor.containers[0]';
  const texts: [string, string][] = [
    [`${C}.image`, p.image],
    ...p.command.map((t, i): [string, string] => [`${C}.command[${i}]`, t]),
    ...p.args.map((t, i): [string, string] => [`${C}.args[${i}]`, t]),
    ...p.env.map((e, i): [string, string] => [`${C}.env[${i}].value`, e.value]),
  ];
  for (const [field, text] of texts) {
    for (const ph of placeholdersIn(text)) {
      const declared = ph.kind === 'parameters' ? params.some((x) => x.name === ph.name) : arts.some((x) => x.name === ph.name);
      if (!declared) r.fail(field, `uses {{inputs.${ph.kind}.${ph.name}}}, which spec.inputs.${ph.kind} does not declare`);
    }
  }
}

/**
 * One YAML document → an executable, or null for a document of another kind when `otherKinds` is
 * 'skip' (an application's repository may hold workflow templates Gantry does not run).
 */
export function readServingTemplate(file: string, doc: unknown, yaml: YamlReader, otherKinds: 'fail' | 'skip' = 'fail'): ExecutableSpec | null {
  const r = new Reader(file, yaml);
  const root = r.obj(doc, '(document)', true) as Obj;
  const kind = r.str(root.kind, 'kind', true);
  if (kind !== 'ServingTemplate') {
    if (otherKinds === 'skip') return null;
    r.fail('kind', `must be ServingTemplate, not '${kind}'`);
  }
  const meta = r.obj(root.metadata, 'metadata', true) as Obj;
  const id = r.id(meta.name, 'metadata.name');
  const labels = stringMap(r, r.obj(meta.labels, 'metadata.labels', true), 'metadata.labels');
  const annotations = stringMap(r, r.obj(meta.annotations, 'metadata.annotations', false), 'metadata.annotations');
  const scenarioId = r.id(labels['scenarios.ai.sap.com/id'], "metadata.labels['scenarios.ai.sap.com/id']");
  const versionId = r.str(labels['ai.sap.com/version'], "metadata.labels['ai.sap.com/version']", true);
  const extLabels: KeyValue[] = Object.entries(labels)
    .filter(([k]) => EXT_LABEL.test(k))
    .map(([key, value]) => ({ key, value }));
  const spec = r.obj(root.spec, 'spec', true) as Obj;
  const inputs = r.obj(spec.inputs, 'spec.inputs', false) ?? {};
  const parameters = readParameters(r, inputs.parameters);
  const inputArtifacts = readArtifacts(r, inputs.artifacts, annotations);
  const template = r.obj(spec.template, 'spec.template', true) as Obj;
  const tmeta = r.obj(template.metadata, 'spec.template.metadata', false) ?? {};
  const tlabels = stringMap(r, r.embedded(tmeta.labels, 'spec.template.metadata.labels', false), 'spec.template.metadata.labels');
  const tannotations = stringMap(r, r.embedded(tmeta.annotations, 'spec.template.metadata.annotations', false), 'spec.template.metadata.annotations');
  const predictor = readPredictor(r, r.embedded(template.spec, 'spec.template.spec', true) as Obj);
  checkPlaceholders(r, predictor, parameters, inputArtifacts);
  return {
    id,
    name: annotations['executables.ai.sap.com/name'] ?? id,
    description: annotations['executables.ai.sap.com/description'] ?? null,
    scenarioId,
    scenarioName: annotations['scenarios.ai.sap.com/name'] ?? scenarioId,
    scenarioDescription: annotations['scenarios.ai.sap.com/description'] ?? null,
    versionId,
    labels: extLabels,
    parameters,
    inputArtifacts,
    predictor,
    resourcePlan: tlabels['ai.sap.com/resourcePlan'] ?? null,
    annotations: tannotations,
    sourceFile: file,
  };
}
