import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isStrictBase64 } from './query.js';
import { looksLikeJwt } from '../../../control/accounts/jwt.js';
import type { ControlPlane } from '../../../control/control-plane.js';
import type { Principal } from '../../../control/principal.js';
import { GantryError } from '../../../domain/errors.js';
import { lenientJson } from '../../edge/mount.js';

/** `id:secret` from base64, or null when the text is not strict base64 of printable `a:b`. */
function pairOf(b64: string): { id: string; secret: string } | null {
  if (b64 === '' || !isStrictBase64(b64)) return null;
  const text = Buffer.from(b64, 'base64').toString('utf8');
  const at = text.indexOf(':');
  if (at < 0 || /[\u0000-\u001f\u007f\ufffd]/.test(text)) return null;
  return { id: text.slice(0, at), secret: text.slice(at + 1) };
}

/**
 * The Gantry API key a request carries, in any of Elasticsearch's schemes:
 * `ApiKey base64(id:key)` (the id is not checked: any text, or the key's id), `ApiKey <key>` (the
 * raw Gantry key, what `auth: {apiKey: key}` sends), `Basic base64(user:key)` (any user name) and
 * `Bearer <key or access token>`. A Gantry key (`gnt_…`) is never strict base64 (it holds `_`), so
 * the two ApiKey forms cannot be confused.
 */
export function elasticCredential(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return null;
  const m = /^(\S+)\s+(\S+)\s*$/.exec(h.trim());
  if (m === null) return null;
  const scheme = (m[1] as string).toLowerCase();
  const value = m[2] as string;
  if (scheme === 'apikey') return pairOf(value)?.secret ?? value;
  if (scheme === 'basic') return pairOf(value)?.secret ?? null;
  if (scheme === 'bearer') return value;
  return null;
}

/** An access token (a JWT from AI Core's /oauth/token) is checked as one; anything else as an API key. */
export async function elasticAuthenticate(control: ControlPlane, credential: string | null, req: FastifyRequest): Promise<Principal> {
  if (credential === null || credential === '') {
    throw new GantryError(
      'UNAUTHENTICATED',
      `missing authentication credentials for REST request [${req.url}]: send "Authorization: ApiKey <Gantry API key>" (or Basic with the key as password, or Bearer <key>)`,
    );
  }
  return looksLikeJwt(credential) ? control.accounts.tokens.authenticateAccessToken(credential) : control.authenticate(credential);
}

/**
 * Bodies as JSON under `application/json` and `application/vnd.elasticsearch+json; compatible-with=8|9`
 * (the 9.x client sends the latter even on body-less POSTs: an empty body is no body). Any other
 * compatible-with version is refused as Elasticsearch refuses it; other types are read as JSON too.
 */
export function elasticParsers(app: FastifyInstance): void {
  lenientJson(app);
  app.addContentTypeParser(/^application\/vnd\.elasticsearch\+json/i, { parseAs: 'string' }, (req, body, done) => {
    const ct = req.headers['content-type'] ?? '';
    const v = /compatible-with\s*=\s*"?(\d+)/i.exec(ct)?.[1];
    if (v !== undefined && v !== '8' && v !== '9') {
      done(
        new GantryError('INVALID_ARGUMENT', `Invalid media-type value on headers [Content-Type]: compatible-with=${v} is not supported (use 8 or 9)`, {
          esType: 'media_type_header_exception',
        }),
        undefined,
      );
      return;
    }
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new GantryError('INVALID_JSON', 'Failed to parse the request body as JSON.'), undefined);
    }
  });
}
