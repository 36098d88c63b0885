/** Argo-style placeholders of serving templates: `{{inputs.parameters.NAME}}`, `{{inputs.artifacts.NAME}}`. */
const PLACEHOLDER = /\{\{\s*inputs\.(parameters|artifacts)\.([\w.-]+)\s*\}\}/g;

export interface Placeholder {
  readonly kind: 'parameters' | 'artifacts';
  readonly name: string;
}

export function placeholdersIn(text: string): Placeholder[] {
  return [...text.matchAll(PLACEHOLDER)].map((m) => ({ kind: m[1] as Placeholder['kind'], name: m[2] as string }));
}

/** Fill every placeholder; `value` answers undefined for a name it does not know, which the caller turns into an error. */
export function fillPlaceholders(text: string, value: (p: Placeholder) => string | undefined, missing: (p: Placeholder) => never): string {
  return text.replace(PLACEHOLDER, (_m, kind: string, name: string) => {
    const p = { kind: kind as Placeholder['kind'], name };
    return value(p) ?? missing(p);
  });
}
