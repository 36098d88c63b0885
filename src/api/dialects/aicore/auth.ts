import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ControlPlane } from '../../../control/control-plane.js';
import type { Principal } from '../../../control/principal.js';
import { apiKeyOf } from '../../edge/api-key.js';
import type { EdgeDeps } from '../../edge/dialect.js';

/** STUB (helper "aicore-auth" replaces): the bearer token. */
export function aicoreCredential(req: FastifyRequest): string | null {
  return apiKeyOf(req);
}

/** STUB (helper "aicore-auth" replaces): a JWT from /oauth/token, or a Gantry API key. */
export async function aicoreAuthenticate(control: ControlPlane, credential: string | null): Promise<Principal> {
  return control.authenticate(credential);
}

/** STUB (helper "aicore-auth" replaces): POST /oauth/token and /v2/admin/resourceGroups. */
export function aicoreAuthRoutes(_app: FastifyInstance, _deps: EdgeDeps): void {}
