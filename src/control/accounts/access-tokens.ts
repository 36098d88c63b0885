import { createHmac, randomUUID } from 'node:crypto';
import { GantryError } from '../../domain/errors.js';
import type { ControlContext } from '../context.js';
import { hashKey } from '../keys.js';
import type { Principal } from '../principal.js';
import { authenticateKeyId } from './authenticate.js';
import { signJwt, verifyJwt } from './jwt.js';

/**
 * OAuth2 client credentials over Gantry's API keys: the client id names a key (`gantry-<keyId>-<installation>`),
 * the client secret is the key itself, and the access token is a JWT that names the key again. So
 * a token carries no rights of its own: every use reads the key (revoked: the token stops working;
 * its scopes and team role apply as they are now).
 */
export const TOKEN_ISSUER = 'gantry';

const CLIENT_ID = /^gantry-(\d{1,15})-([0-9a-f]{8})$/;

/**
 * `gantry-<keyId>-<installation>`: the suffix (from the server secret) tells installations apart,
 * because SAP's SDK caches tokens by client id alone; two Gantry servers handing out `gantry-3`
 * would get each other's tokens in one process.
 */
export function clientIdOf(ctx: Pick<ControlContext, 'secret'>, keyId: number): string {
  return `gantry-${keyId}-${createHmac('sha256', ctx.secret).update('client-id:v1').digest('hex').slice(0, 8)}`;
}

/** The key id a client id of this installation names, or null. */
function keyIdOf(ctx: Pick<ControlContext, 'secret'>, clientId: string): number | null {
  const m = CLIENT_ID.exec(clientId);
  if (m === null) return null;
  const id = Number(m[1]);
  return clientIdOf(ctx, id) === clientId ? id : null;
}

/** The signing key: derived from the server secret, so every replica signs and checks alike and nothing more is stored. */
function signingKey(ctx: Pick<ControlContext, 'secret'>): Buffer {
  return createHmac('sha256', ctx.secret).update('access-token:v1').digest();
}

export interface TokenRequest {
  readonly grantType: string | null;
  readonly clientId: string | null;
  readonly clientSecret: string | null;
}

export interface AccessToken {
  readonly accessToken: string;
  readonly expiresInS: number;
  readonly jti: string;
}

const badClient = (): GantryError => new GantryError('UNAUTHENTICATED', 'Bad client credentials: unknown client id, or a secret that does not belong to it.');

/** The token endpoint: UNSUPPORTED_GRANT_TYPE for any grant but client_credentials, UNAUTHENTICATED for a bad id or secret. */
export async function issueAccessToken(ctx: ControlContext, r: TokenRequest): Promise<AccessToken> {
  if (r.grantType !== 'client_credentials') {
    const got = r.grantType === null ? 'none (or not one text value)' : JSON.stringify(r.grantType);
    throw new GantryError('UNSUPPORTED_GRANT_TYPE', `grant_type must be client_credentials; got ${got}.`, {
      field: 'grant_type',
    });
  }
  if (r.clientId === null || r.clientSecret === null || r.clientSecret === '') throw badClient();
  const keyId = keyIdOf(ctx, r.clientId);
  const found = keyId === null ? undefined : await ctx.store.findKeyWithAccount(hashKey(r.clientSecret));
  if (found === undefined || found.key.id !== keyId || found.account.deletedAt !== null) throw badClient();
  const now = ctx.clock.now();
  const iat = Math.floor(now / 1000);
  const expiresInS = Math.max(1, Math.floor(ctx.settings.accessTokenTtlMs / 1000));
  const jti = randomUUID();
  const claims = { iss: TOKEN_ISSUER, sub: r.clientId, client_id: r.clientId, zid: TOKEN_ISSUER, iat, exp: iat + expiresInS, jti };
  return { accessToken: signJwt(signingKey(ctx), claims), expiresInS, jti };
}

/** The principal of an access token: signature, issuer and expiry checked, then its key as it is now. */
export async function authenticateAccessToken(ctx: ControlContext, token: string): Promise<Principal> {
  const claims = verifyJwt(signingKey(ctx), token);
  if (claims === null || claims.iss !== TOKEN_ISSUER)
    throw new GantryError('UNAUTHENTICATED', 'The access token is not valid (malformed, or not signed by this server).');
  const exp = claims.exp;
  if (typeof exp !== 'number' || ctx.clock.now() >= exp * 1000) throw new GantryError('UNAUTHENTICATED', 'The access token has expired; request a new one.');
  const keyId = typeof claims.sub === 'string' ? keyIdOf(ctx, claims.sub) : null;
  if (keyId === null) throw new GantryError('UNAUTHENTICATED', 'The access token names no client of this server.');
  return authenticateKeyId(ctx, keyId);
}
