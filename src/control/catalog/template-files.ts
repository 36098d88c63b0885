import { parse, parseAllDocuments } from 'yaml';
import { readServingTemplate, templateError } from '../../domain/catalog/serving-template.js';
import type { ExecutableSpec } from '../../domain/catalog/records.js';
import { GantryError } from '../../domain/errors.js';
import { MAX_ALIAS_COUNT, yamlBeyondBounds } from './yaml-bounds.js';

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

/** Aliases expand within yaml's bound; warnings (a collection as a mapping key) are the client's, not the server log's. */
const YAML_OPTIONS = { prettyErrors: true, logLevel: 'error', maxAliasCount: MAX_ALIAS_COUNT } as const;

/** YAML inside a template (`spec.template.spec` is a string of YAML): one document, parse errors thrown. */
function readEmbedded(text: string): unknown {
  const problem = yamlBeyondBounds(text);
  if (problem !== null) throw new Error(problem);
  return parse(text, YAML_OPTIONS);
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
    // Bounded before composing: composing and toJS recurse once per level of nesting.
    const problem = yamlBeyondBounds(f.content);
    if (problem !== null) throw templateError(f.name, '(yaml)', problem);
    const docs = parseAllDocuments(f.content, YAML_OPTIONS);
    if (!Array.isArray(docs)) continue; // an empty file
    const real = docs.filter((d) => d.contents !== null);
    for (const [i, d] of real.entries()) {
      const label = real.length > 1 ? `${f.name} (document ${i + 1})` : f.name;
      const bad = d.errors[0];
      if (bad !== undefined) throw templateError(label, '(yaml)', `does not parse: ${firstLine(bad)}`);
      let value: unknown;
      try {
        value = d.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
      } catch (err) {
        throw templateError(label, '(yaml)', `does not parse: ${firstLine(err)}`);
      }
      const spec = readServingTemplate(label, value, readEmbedded, otherKinds);
      if (spec === null) continue;
      const prior = from.get(spec.id);
      if (prior !== undefined) throw templateError(label, 'metadata.name', `'${spec.id}' is the executable of ${prior} already`);
      from.set(spec.id, label);
      out.push(spec);
    }
  }
  return out;
}
