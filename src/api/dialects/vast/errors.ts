import { assertNever, type ErrorCode, type GantryError } from '../../../domain/errors.js';
import { VAST_PARAM_NAMES } from './endpoint-params.js';

/** Codes whose Vast `error` string differs from their kind's; scripts read `error`, the CLI prints `msg`. */
const VAST_NAMES: Partial<Readonly<Record<ErrorCode, string>>> = {
  MISSING_INPUT: 'missing_input',
  INVALID_PERMISSIONS: 'invalid_permissions',
  PERMISSION_ESCALATION: 'invalid_permissions',
  PERMISSION_MISSING: 'missing_permissions',
  INVALID_USERNAME: 'invalid_request',
  INVALID_EMAIL: 'invalid_email',
  USER_EXISTS: 'user_exists',
  ROLE_EXISTS: 'role_exists',
  INVALID_SECRET_NAME: 'invalid_characters',
  SECRET_TOO_LONG: 'input_too_long',
  SECRET_LIMIT: 'max_secrets',
  API_KEY_LIMIT: 'max_api_keys',
  ACCOUNT_LIMIT: 'max_subaccounts',
  SECRET_NOT_FOUND: 'nonexistent_key',
  SECRET_EXISTS: 'existing_key',
  SSH_KEY_MISSING: 'no_ssh_key',
  SSH_KEY_LIMIT: 'max_ssh_keys',
  ENDPOINT_LIMIT: 'max_endpoints',
  WORKERGROUP_LIMIT: 'max_workergroups',
  TEMPLATE_LIMIT: 'max_templates',
  INVALID_SSH_KEY: 'invalid_ssh_key',
  SSH_KEY_NOT_FOUND: 'no_such_ssh_key',
  RECIPIENT_NOT_FOUND: 'invalid_recipient',
  SELF_TRANSFER: 'invalid_recipient',
  OFFER_NOT_FOUND: 'no_such_ask',
  OFFER_UNAVAILABLE: 'no_such_ask',
  WORKERGROUP_NOT_FOUND: 'no_such_workergroup',
  PRICE_INCREASE_NOT_FOUND: 'no_pending_price_increase',
  NOT_SUPPORTED: 'not_supported',
};

/** The rate as Vast prints it in `threshold=` (a float: 2.0, 0.5). */
export function thresholdText(rate: number): string {
  return Number.isInteger(rate) ? rate.toFixed(1) : String(rate);
}

/** Engine field names that Vast's clients know by another name. */
const VAST_FIELD_NAMES: Readonly<Record<string, string>> = {
  ...VAST_PARAM_NAMES,
  priceGpuPerHour: 'price_gpu',
  priceDiskPerGbMonth: 'price_disk',
  priceInetUpPerGb: 'price_inetu',
  priceInetDownPerGb: 'price_inetd',
  minBidPerGpuHour: 'price_min_bid',
  minChunk: 'min_chunk',
  endDate: 'end_date',
  discountRate: 'discount_rate',
  startMs: 'sdate',
  durationHours: 'duration',
  gpuRamGb: 'gpu_ram',
  testWorkers: 'test_workers',
  endpointId: 'endpoint_id',
  endpointName: 'endpoint_name',
  deploymentName: 'name',
  deploymentTag: 'tag',
  aliasOf: 'alias_of',
  diskGb: 'disk',
  statusMsg: 'status_msg',
};

/**
 * The engine's message as Vast's clients read it: every field the engine names (quoted, by its
 * engine name) is called by Vast's name for it (`'minLoad'` → `'min_load'`).
 */
export function vastMessage(e: GantryError): string {
  if (e.code === 'RATE_LIMITED' && typeof e.details.rate === 'number') return `API requests too frequent endpoint threshold=${thresholdText(e.details.rate)}`;
  return e.message.replace(/'([A-Za-z]+)'/g, (quoted, field: string) =>
    Object.prototype.hasOwnProperty.call(VAST_FIELD_NAMES, field) ? `'${VAST_FIELD_NAMES[field]}'` : quoted,
  );
}

/** Vast's `error` string for an error: the code's own name, else its kind's. */
function vastErrorName(e: GantryError): string {
  const own = VAST_NAMES[e.code];
  if (own !== undefined) return own;
  switch (e.kind) {
    case 'invalid':
      return 'invalid_args';
    case 'unauthenticated':
      return 'auth_error';
    case 'forbidden':
      return 'forbidden';
    case 'not_found':
      return 'not_found';
    case 'method_not_allowed':
      return 'method_not_allowed';
    case 'conflict':
      return 'conflict';
    case 'illegal_transition':
      return 'invalid_state';
    case 'rate_limited':
      return 'rate_limited';
    case 'payment_required':
      return 'insufficient_balance';
    case 'unavailable':
      return 'unavailable';
    case 'upstream':
      return 'worker_error';
    case 'timeout':
      return 'timeout';
    case 'internal':
      return 'server_error';
    default:
      return assertNever(e.kind, 'error kind');
  }
}

/** `{"success":false,"error":...,"msg":...}` plus Gantry's stable code for scripts. */
export function vastErrorBody(e: GantryError, status: number): Record<string, unknown> {
  // Fields the engine refused are named as the client named them (min_load, not minLoad).
  const msg = vastMessage(e);
  const body: Record<string, unknown> = { success: false, error: vastErrorName(e), msg, code: e.code };
  if (e.code === 'INSTANCE_NOT_FOUND') body.instances = null;
  if (status === 429) body.detail = msg;
  return body;
}
