import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { transformServiceBindingToDestination, type HttpDestination } from '@sap-cloud-sdk/connectivity';
import type { TestGantry } from './gantry.js';

/** Gantry's examples folder, as the example chat template's `examplesDir` parameter wants it (absolute). */
export const EXAMPLES_DIR = fileURLToPath(new URL('../../../examples', import.meta.url));

/** The example chat ServingTemplate (scenario foundation-models, executable azure-openai). */
export async function chatServingTemplate(): Promise<string> {
  return readFile(`${EXAMPLES_DIR}/aicore-chat/serving-template.yaml`, 'utf8');
}

let envUsed = false;
/**
 * How the SDK gets the service key: the first time in a process through AICORE_SERVICE_KEY, as
 * users give it (the SDK reads the variable once per process); later as the destination the SDK
 * builds from that variable, so each store's run talks to its own server.
 */
export async function sdkDestination(serviceKey: Record<string, unknown>): Promise<HttpDestination | undefined> {
  if (!envUsed) {
    envUsed = true;
    process.env.AICORE_SERVICE_KEY = JSON.stringify(serviceKey);
    return undefined;
  }
  return (await transformServiceBindingToDestination({ credentials: serviceKey, label: 'aicore', name: 'aicore', tags: ['aicore'] } as never, {
    useCache: false,
  })) as HttpDestination;
}

/** A service key of the account `key` belongs to, from Gantry's API route. */
export async function serviceKeyFor(g: TestGantry, key: string, resourceGroup?: string): Promise<Record<string, any>> {
  const r = await g.api('POST', '/v2/admin/serviceKeys', resourceGroup === undefined ? {} : { resourceGroup }, { key });
  assert.equal(r.status, 201, r.text);
  return r.body;
}

/** A call to the AI API with a bearer credential and a resource group header (plain fetch, for what the SDK cannot send). */
export async function lm(
  g: TestGantry,
  key: string,
  method: string,
  path: string,
  body?: unknown,
  o: { group?: string | null; contentType?: string } = {},
): Promise<{ status: number; body: any; text: string; headers: Headers }> {
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (o.group !== null) headers['ai-resource-group'] = o.group ?? 'default';
  if (body !== undefined) headers['content-type'] = o.contentType ?? 'application/json';
  const res = await fetch(`${g.url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // text/plain ($count) or an empty body
  }
  return { status: res.status, body: parsed, text, headers: res.headers };
}
