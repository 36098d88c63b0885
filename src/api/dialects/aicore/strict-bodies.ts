import { Ajv, type Options } from 'ajv';
import type { FastifyInstance } from 'fastify';

/**
 * AI Core's bodies are typed JSON: a number, a boolean or a one-element array where the API takes a
 * string is refused (400), where fastify's default validator would convert it (`5` to `"5"`,
 * `["STOPPED"]` to `"STOPPED"`) and act on it. Query strings and path parameters are text, so they keep
 * the conversion (`$top=10` is a number).
 */
export function strictBodies(app: FastifyInstance): void {
  // fastify's own defaults, but for coercion; extra fields are refused, not removed (as app.ts sets).
  const base: Options = { useDefaults: true, removeAdditional: false, allErrors: false, addUsedSchema: false };
  const bodies = new Ajv({ ...base, coerceTypes: false });
  const text = new Ajv({ ...base, coerceTypes: 'array' });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodies : text).compile(schema));
}
