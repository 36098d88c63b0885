import { Client } from '@elastic/elasticsearch';
import type { TestGantry } from './gantry.js';

/** The real Elasticsearch client pointed at a test Gantry, with a Gantry API key as its ApiKey. */
export function esClient(g: TestGantry, key: string = g.adminKey as string): Client {
  return new Client({ node: g.url, auth: { apiKey: key }, maxRetries: 0, requestTimeout: 120_000 });
}

/** A raw request to the dialect: status, headers and the parsed body. */
export async function esRaw(
  g: TestGantry,
  method: string,
  path: string,
  o: { auth?: string | null; body?: string; contentType?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; body: any; text: string }> {
  const headers: Record<string, string> = { ...o.headers };
  const auth = o.auth === undefined ? `ApiKey ${g.adminKey as string}` : o.auth;
  if (auth !== null) headers.authorization = auth;
  if (o.contentType !== undefined) headers['content-type'] = o.contentType;
  const res = await fetch(g.url + path, { method, headers, body: o.body });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  return { status: res.status, headers: res.headers, body, text };
}
