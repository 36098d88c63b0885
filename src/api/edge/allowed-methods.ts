/**
 * The methods a path is served with, for the 405 of a known path asked with another method (Vast's,
 * AI Core's and Elasticsearch's servers all answer so, with an `Allow` header; the router alone only
 * knows "no route"). Read from the routes' patterns as fastify registers them, and asked only when the
 * router found nothing, so the regular expressions cost nothing on a served request.
 */
export class AllowedMethods {
  readonly #routes: { method: string; url: string }[] = [];
  #compiled: { method: string; re: RegExp }[] | null = null;

  add(method: string, url: string): void {
    this.#routes.push({ method, url });
    this.#compiled = null;
  }

  /** The methods (GET bringing HEAD, as fastify serves it) a route answers for this path, sorted; empty when no route has the path. */
  of(path: string): readonly string[] {
    this.#compiled ??= this.#routes.map((r) => ({ method: r.method, re: patternToRegExp(r.url) }));
    const p = normalise(path);
    const found = new Set<string>();
    for (const r of this.#compiled) if (r.re.test(p)) found.add(r.method);
    if (found.has('GET')) found.add('HEAD');
    return [...found].sort();
  }
}

/** As the router reads a path: doubled slashes are one and a trailing slash is ignored (the app's router options). */
function normalise(path: string): string {
  const p = path.replace(/\/{2,}/g, '/');
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}

const NAME = /[A-Za-z0-9_-]/;

/** A fastify route pattern (`/a/:id`, `:id(^\\d+)`, `:a-:b`, `*`, `::` for a colon) as a regular expression of the whole path. */
export function patternToRegExp(pattern: string): RegExp {
  const url = normalise(pattern);
  let re = '';
  for (let i = 0; i < url.length; i++) {
    const c = url[i] as string;
    if (c === ':' && url[i + 1] === ':') {
      re += ':';
      i++;
    } else if (c === ':') {
      while (i + 1 < url.length && NAME.test(url[i + 1] as string)) i++;
      // A parameter's own expression (in parentheses, nested ones included) is not checked here: any segment text will do.
      if (url[i + 1] === '(') {
        let depth = 0;
        do {
          i++;
          if (url[i] === '\\') i++;
          else if (url[i] === '(') depth++;
          else if (url[i] === ')') depth--;
        } while (i < url.length && depth > 0);
      }
      re += '[^/]+';
    } else if (c === '*') re += '.*';
    else re += c.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
