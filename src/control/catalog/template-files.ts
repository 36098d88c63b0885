import { parse, parseAllDocuments } from 'yaml';
import { readServingTemplate, templateError } from '../../domain/catalog/serving-template.js';
import type { ExecutableSpec } from '../../domain/catalog/records.js';
import { GantryError } from '../../domain/errors.js';

/** A template file as a client or a repository hands it over. */
export interface TemplateFile {
  readonly name: string;
  readonly content: string;
}

export const MAX_TEMPLATE_FILES = 500;
export const MAX_TEMPLATE_BYTES = 1024 * 1024;

function firstLine(err: unknown): string {
  return ((err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '').replace(/:$/, '');
}

/** YAML inside a template (`spec.template.spec` is a string of YAML): one document, parse errors thrown. */
function readEmbedded(text: string): unknown {
  return parse(text, { prettyErrors: true });
}

/**
 * Every document of every file → executables. Nothing is returned unless all parse: a bad file is
 * TEMPLATE_INVALID naming it and the field; two templates of one executable id are too.
 * `otherKinds: 'skip'` passes over documents of other kinds (an application's workflow templates).
 */
export function parseTemplateFiles(files: readonly TemplateFile[], otherKinds: 'fail' | 'skip'): ExecutableSpec[] {
  if (files.length > MAX_TEMPLATE_FILES) throw new GantryError('INVALID_ARGUMENT', `At most ${MAX_TEMPLATE_FILES} template files at once.`, { field: 'files' });
  const out: ExecutableSpec[] = [];
  const from = new Map<string, string>();
  for (const f of files) {
    if (Buffer.byteLength(f.content) > MAX_TEMPLATE_BYTES) throw templateError(f.name, '(file)', `is larger than ${MAX_TEMPLATE_BYTES} bytes`);
    const docs = parseAllDocuments(f.content, { prettyErrors: true });
    if (!Array.isArray(docs)) continue; // an empty file
    const real = docs.filter((d) => d.contents !== null);
    for (const [i, d] of real.entries()) {
      const label = real.length > 1 ? `${f.name} (document ${i + 1})` : f.name;
      const bad = d.errors[0];
      if (bad !== undefined) throw templateError(label, '(yaml)', `does not parse: ${firstLine(bad)}`);
      const spec = readServingTemplate(label, d.toJS(), readEmbedded, otherKinds);
      if (spec === null) continue;
      const prior = from.get(spec.id);
      if (prior !== undefined) throw templateError(label, 'metadata.name', `'${spec.id}' is the executable of ${prior} already`);
      from.set(spec.id, label);
      out.push(spec);
    }
  }
  return out;
}
