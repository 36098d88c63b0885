import { Ajv, type Options, type ValidateFunction } from 'ajv';
import type { FastifyInstance } from 'fastify';

/**
 * AI Core's bodies are typed JSON: a number, a boolean or a one-element array where the API takes a
 * string is refused (400), where fastify's default validator would convert it (`5` to `"5"`,
 * `["STOPPED"]` to `"STOPPED"`) and act on it. Query strings and path parameters are text, so they keep
 * the conversion (`$top=10` is a number).
 */
export function strictBodies(app: FastifyInstance): void {
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? BODIES : TEXT)(schema));
}

// fastify's own defaults, but for coercion; extra fields are refused, not removed (as app.ts sets).
const BASE: Options = { useDefaults: true, removeAdditional: false, allErrors: false, addUsedSchema: false };

/**
 * One compiler per kind of part for the process, each schema compiled once by its text: every app built
 * (a replica's, and each server a test starts) would otherwise make two Ajv instances and compile every
 * AI Core route's schemas again, a large share of starting a server.
 */
function compilerFor(ajv: Ajv): (schema: unknown) => ValidateFunction {
  const compiled = new Map<string, ValidateFunction>();
  return (schema) => {
    const text = JSON.stringify(schema);
    let v = compiled.get(text);
    if (v === undefined) compiled.set(text, (v = ajv.compile(schema as object)));
    return v;
  };
}
const BODIES = compilerFor(new Ajv({ ...BASE, coerceTypes: false }));
const TEXT = compilerFor(new Ajv({ ...BASE, coerceTypes: 'array' }));
