import { TOKEN_ISSUER, clientIdOf } from './access-tokens.js';
import { createApiKey } from './api-keys.js';
import type { ControlContext } from '../context.js';
import { authorize, type Principal } from '../principal.js';
import { ensureResourceGroup } from './resource-groups.js';

/**
 * A service key as SAP's SDKs take it (`AICORE_SERVICE_KEY`): a new API key of the caller's account
 * with the caller's rights, presented as OAuth2 client credentials. `url` is where the SDK asks for
 * tokens (`{url}/oauth/token`) and `serviceurls.AI_API_URL` the API's base (the SDK adds `/v2`).
 */
export interface ServiceKey {
  readonly clientid: string;
  readonly clientsecret: string;
  readonly url: string;
  readonly identityzone: string;
  readonly identityzoneid: string;
  readonly appname: string;
  readonly serviceurls: { readonly AI_API_URL: string };
  /** Gantry: the resource group the key was made for (created if missing); absent: `default`. */
  readonly resourceGroup?: string;
}

export async function createServiceKey(ctx: ControlContext, p: Principal, r: { resourceGroup?: string | null; publicUrl: string }): Promise<ServiceKey> {
  authorize(p, 'account.write');
  const rg = r.resourceGroup ?? null;
  if (rg !== null) await ensureResourceGroup(ctx, p, rg);
  const key = await createApiKey(ctx, p, { name: rg === null ? 'aicore service key' : `aicore service key (${rg})`, permissions: null, teamId: null });
  const base = r.publicUrl.replace(/\/+$/, '');
  return {
    clientid: clientIdOf(ctx, key.id),
    clientsecret: key.key,
    url: base,
    identityzone: TOKEN_ISSUER,
    identityzoneid: TOKEN_ISSUER,
    appname: clientIdOf(ctx, key.id),
    serviceurls: { AI_API_URL: base },
    ...(rg !== null && { resourceGroup: rg }),
  };
}
