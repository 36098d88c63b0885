import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Compact JWS with HS256, no more: AI Core's SDK decodes the token it gets (`exp`) but never checks
 * its signature, so only this server must. The header is fixed, so `alg: none` and key confusion
 * cannot be smuggled in.
 */
export type JwtClaims = Readonly<Record<string, unknown>>;

const HEADER = b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

function mac(key: Buffer, signingInput: string): Buffer {
  return createHmac('sha256', key).update(signingInput).digest();
}

export function signJwt(key: Buffer, claims: JwtClaims): string {
  const input = `${HEADER}.${b64(JSON.stringify(claims))}`;
  return `${input}.${mac(key, input).toString('base64url')}`;
}

/** Three base64url parts, the first a JSON header: a JWT, as opposed to a plain API key. */
export function looksLikeJwt(token: string): boolean {
  return /^eyJ[\w-]*\.[\w-]+\.[\w-]*$/.test(token);
}

/**
 * The claims of a token this key signed, or null for a malformed one, another algorithm, or a
 * signature that does not match (compared in constant time). Expiry and issuer are the caller's.
 */
export function verifyJwt(key: Buffer, token: string): JwtClaims | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const [header, payload, sig] = parts as [string, string, string];
  try {
    const h = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { alg?: unknown };
    if (h.alg !== 'HS256') return null;
    const want = mac(key, `${header}.${payload}`);
    const got = Buffer.from(sig, 'base64url');
    if (got.length !== want.length || !timingSafeEqual(got, want)) return null;
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown;
    return typeof claims === 'object' && claims !== null && !Array.isArray(claims) ? (claims as JwtClaims) : null;
  } catch {
    return null;
  }
}
