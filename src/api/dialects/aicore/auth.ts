import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ControlPlane } from '../../../control/control-plane.js';
import type { Principal } from '../../../control/principal.js';
import { looksLikeJwt } from '../../../control/accounts/jwt.js';
import { GantryError } from '../../../domain/errors.js';
import { apiKeyOf } from '../../edge/api-key.js';
import type { EdgeDeps } from '../../edge/dialect.js';
import { principal } from '../../edge/principal.js';
import { RESOURCE_GROUP_ID } from '../../../domain/account/resource-groups.js';
import { lenientJson } from '../../edge/mount.js';
import { aicoreResourceGroupRoutes } from './resource-groups.js';

/** The bearer token: an access token from /oauth/token, or a Gantry API key (for curl). */
export function aicoreCredential(req: FastifyRequest): string | null {
  return apiKeyOf(req);
}

/** A JWT is checked as an access token (signature, issuer, expiry, its key still live); anything else as an API key. */
export async function aicoreAuthenticate(control: ControlPlane, credential: string | null): Promise<Principal> {
  if (credential === null || credential === '') {
    throw new GantryError('UNAUTHENTICATED', 'Send "Authorization: Bearer <token>": an access token from POST /oauth/token, or a Gantry API key.');
  }
  return looksLikeJwt(credential) ? control.accounts.tokens.authenticateAccessToken(credential) : control.authenticate(credential);
}

/** The token request's body is a form (as OAuth2 says); everything else is lenient JSON. */
export function aicoreParsers(app: FastifyInstance): void {
  lenientJson(app);
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(typeof body === 'string' ? body : body.toString('utf8'))));
  });
}

/** `Authorization: Basic base64(id:secret)`, each part form-encoded as RFC 6749 §2.3.1 says. */
function basicCredentials(req: FastifyRequest): { id: string; secret: string } | null {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(req.headers.authorization ?? '');
  if (m === null) return null;
  const text = Buffer.from(m[1] as string, 'base64').toString('utf8');
  const at = text.indexOf(':');
  if (at < 0) return null;
  const decode = (s: string): string => {
    try {
      return decodeURIComponent(s.replace(/\+/g, ' '));
    } catch {
      return s;
    }
  };
  return { id: decode(text.slice(0, at)), secret: decode(text.slice(at + 1)) };
}

function field(body: Record<string, unknown>, name: string): string | null {
  const v = body[name];
  return typeof v === 'string' ? v : null;
}

/** POST /oauth/token (OAuth2 client credentials) and the resource group routes. */
export function aicoreAuthRoutes(app: FastifyInstance, deps: EdgeDeps): void {
  const { control } = deps;
  app.post('/oauth/token', async (req, reply) => {
    const body = typeof req.body === 'object' && req.body !== null ? (req.body as Record<string, unknown>) : {};
    const query = req.query as Record<string, unknown>;
    const basic = basicCredentials(req);
    const t = await control.accounts.tokens.issueAccessToken({
      // SAP's clients put grant_type in the body; some OAuth2 clients send it in the query string.
      grantType: field(body, 'grant_type') ?? field(query, 'grant_type'),
      clientId: basic?.id ?? field(body, 'client_id'),
      clientSecret: basic?.secret ?? field(body, 'client_secret'),
    });
    void reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    return { access_token: t.accessToken, token_type: 'bearer', expires_in: t.expiresInS, scope: '', jti: t.jti };
  });
  // Gantry extension: a service key for SAP's SDKs (AICORE_SERVICE_KEY), made by a caller with a key or token.
  app.post(
    '/v2/admin/serviceKeys',
    {
      schema: {
        body: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: { resourceGroup: { type: 'string', minLength: 3, maxLength: 253, pattern: RESOURCE_GROUP_ID.source } },
        },
      },
    },
    async (req, reply) => {
      const b = (req.body ?? {}) as { resourceGroup?: string };
      const publicUrl = deps.publicUrl ?? `${req.protocol}://${req.host}`;
      return reply.code(201).send(await control.accounts.tokens.createServiceKey(principal(req), { resourceGroup: b.resourceGroup ?? null, publicUrl }));
    },
  );
  aicoreResourceGroupRoutes(app, deps);
}
