/**
 * Every error code of Gantry with its kind, whether a retry can help, and its line in docs/errors.md.
 * The domain knows no HTTP: `src/api/errors.ts` maps kinds to statuses. Kept apart from `errors.ts`,
 * which holds the error type itself, because the table grows with every new code.
 */
import { LIMIT_CODES } from './limit-codes.js';

export type ErrorKind =
  | 'invalid'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'illegal_transition'
  | 'rate_limited'
  | 'payment_required'
  | 'unavailable'
  | 'upstream'
  | 'timeout'
  | 'internal';

export interface CodeSpec {
  readonly kind: ErrorKind;
  readonly retryable: boolean;
  /**
   * The level an answer with this code is logged at, where its kind's level says the wrong thing: a 503 that tells
   * the caller its endpoint's state is the caller's news, not a fault here. Otherwise: internal at error, other
   * 5xx at warn, the rest at info.
   */
  readonly log?: 'debug' | 'info';
  /** One line for docs/errors.md. */
  readonly doc: string;
}

/** Registry of every error code. Codes are never reused; docs/errors.md lists them all (checked by a test). */
export const ERROR_CODES = {
  INVALID_JSON: { kind: 'invalid', retryable: false, doc: 'The request body is not valid JSON.' },
  INVALID_ARGUMENT: { kind: 'invalid', retryable: false, doc: 'A field has a wrong type or an out-of-range value.' },
  INVALID_QUERY: { kind: 'invalid', retryable: false, doc: 'An offer or instance filter uses an unknown operator or a value of the wrong type.' },
  MISSING_INPUT: { kind: 'invalid', retryable: false, doc: 'A required field is absent or empty.' },
  INVALID_PERMISSIONS: {
    kind: 'invalid',
    retryable: false,
    doc: 'The permission JSON of a key or role does not parse (unknown category, operator or shape), or a rule names a kind of resource its category does not cover.',
  },
  INVALID_USERNAME: { kind: 'invalid', retryable: false, doc: 'A username must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit.' },
  INVALID_EMAIL: { kind: 'invalid', retryable: false, doc: 'The email address does not look like one.' },
  INVALID_SECRET_NAME: {
    kind: 'invalid',
    retryable: false,
    doc: 'An env var (secret) name must be letters, digits and "_", not starting with a digit, and not one Gantry or the runtime sets (PATH, HOME, LD_*, GANTRY_*, CONTAINER_API_KEY…).',
  },
  INVALID_SECRET_VALUE: { kind: 'invalid', retryable: false, doc: 'An env var (secret) value holds a byte no process environment can carry (NUL).' },
  SECRET_TOO_LONG: { kind: 'invalid', retryable: false, doc: 'An env var (secret) value is longer than allowed.' },
  SSH_KEY_MISSING: { kind: 'invalid', retryable: false, doc: 'No SSH public key was given.' },
  INVALID_SSH_KEY: {
    kind: 'invalid',
    retryable: false,
    doc: 'The SSH key is not one OpenSSH public key line, or its key data (base64) is not a key of the type the line declares.',
  },
  SELF_TRANSFER: { kind: 'invalid', retryable: false, doc: 'Credit cannot be sent to the account that sends it.' },
  INVALID_ENV: {
    kind: 'invalid',
    retryable: false,
    doc: 'The env (Docker flags such as `-e K=V -p 8080:8080`, or an object) does not parse, sets a name Gantry or the runtime reserves, or holds a value no process can be started with.',
  },
  // SECRET_LIMIT, ENDPOINT_LIMIT and the other bounds on what one account holds.
  ...LIMIT_CODES,
  UNAUTHENTICATED: {
    kind: 'unauthenticated',
    retryable: false,
    doc: 'No API key or access token, or one that is unknown, revoked, expired or forged (a bad client id or secret at the token endpoint too).',
  },
  FORBIDDEN: { kind: 'forbidden', retryable: false, doc: 'The key is valid but may not do this (for example an instance key acting on another instance).' },
  NOT_FOUND: { kind: 'not_found', retryable: false, doc: 'No such route.' },
  METHOD_NOT_ALLOWED: {
    kind: 'method_not_allowed',
    retryable: false,
    doc: 'The path is served, but not with this method (405); the Allow header lists the methods it takes.',
  },
  INSTANCE_NOT_FOUND: { kind: 'not_found', retryable: false, doc: 'No instance with this id is visible to the caller.' },
  TEMPLATE_NOT_FOUND: {
    kind: 'not_found',
    retryable: false,
    doc: 'No template with this id or hash is visible to the caller (its own templates and public ones).',
  },
  OFFER_NOT_FOUND: { kind: 'not_found', retryable: false, doc: 'The offer id does not name a listed machine or a chunk size it offers.' },
  MACHINE_NOT_FOUND: { kind: 'not_found', retryable: false, doc: 'No machine with this id.' },
  RESULT_NOT_FOUND: { kind: 'not_found', retryable: false, doc: 'The result URL is unknown or has expired.' },
  OFFER_UNAVAILABLE: { kind: 'conflict', retryable: true, doc: 'The GPUs of this offer were rented by someone else; search again.' },
  BID_TOO_LOW: {
    kind: 'invalid',
    retryable: false,
    doc: "A bid is below the offer's minimum bid.",
  },
  GPUS_UNAVAILABLE: {
    kind: 'conflict',
    retryable: true,
    doc: "A stopped instance's GPUs are rented by another instance, or its host no longer has them, so it cannot start now.",
  },
  PORTS_EXHAUSTED: { kind: 'conflict', retryable: true, doc: "The host's port range has no free port left." },
  MACHINE_UNAVAILABLE: { kind: 'conflict', retryable: true, doc: 'The machine is unlisted or offline.' },
  MACHINE_ONLINE: {
    kind: 'conflict',
    retryable: true,
    doc: 'delete machine: its agent is still connected; stop the agent and delete once show machines shows the machine offline.',
  },
  MACHINE_IN_USE: {
    kind: 'conflict',
    retryable: true,
    doc: "delete machine: other accounts' instances (not destroyed) or volumes are on it; the message names them. Their renters destroy them first.",
  },
  MACHINE_DELETED: {
    kind: 'unauthenticated',
    retryable: false,
    doc: 'A host token of a deleted machine: it was revoked with the machine. To add the host again, start its agent with a new host token.',
  },
  HOST_NOT_ISOLATED: {
    kind: 'forbidden',
    retryable: false,
    doc: "The host runs workloads without a sandbox, so it takes only its owner's instances (unless started with --unsafe-shared-process-runtime).",
  },
  ILLEGAL_TRANSITION: { kind: 'illegal_transition', retryable: false, doc: 'The requested state change is not allowed from the current state.' },
  PERMISSION_MISSING: { kind: 'forbidden', retryable: false, doc: "The key's permissions do not include the scope this action needs (the message names it)." },
  PERMISSION_ESCALATION: { kind: 'forbidden', retryable: false, doc: 'A key or role may only be granted permissions its creator holds.' },
  ADMIN_ONLY: { kind: 'forbidden', retryable: false, doc: 'Only an admin account may do this.' },
  RATE_LIMITED: { kind: 'rate_limited', retryable: true, doc: 'Too many requests; retry after the time given.' },
  HOST_UNAVAILABLE: { kind: 'unavailable', retryable: true, doc: 'The host that runs the instance cannot be reached now.' },
  HOST_RUNTIME_FAILED: {
    kind: 'unavailable',
    retryable: true,
    doc: "The host answered, but its runtime could not do what was asked (its container engine down, say); the message is the host's.",
  },
  SSH_PORT_TAKEN: {
    kind: 'conflict',
    retryable: true,
    doc: "A host refused to start an instance because another program on it holds the instance's SSH port; the control plane gives the instance another port and starts it again (between a host and the control plane; the instance's status_msg says what happened).",
  },
  STEP_TIMEOUT: {
    kind: 'timeout',
    retryable: true,
    doc: 'A connected host took a runtime step (start, stop, destroy) and did not finish it within stepTimeoutMs; the instance is recorded failed with this reason, and the step can be requested again.',
  },
  AGENT_SESSION_STALE: {
    kind: 'conflict',
    retryable: true,
    doc: "The agent's session is unknown to this server or was replaced by a newer hello; the agent says hello again.",
  },
  STALE_REPORT: { kind: 'conflict', retryable: false, doc: 'An agent message repeats or precedes one already taken (replayed or reordered); it is ignored.' },
  ENDPOINT_NOT_FOUND: { kind: 'not_found', retryable: false, doc: 'No serverless endpoint with this id or name is visible to the caller.' },
  WORKERGROUP_NOT_FOUND: { kind: 'not_found', retryable: false, doc: 'No workergroup with this id is visible to the caller.' },
  DEPLOYMENT_NOT_FOUND: { kind: 'not_found', retryable: false, doc: 'No deployment with this id is visible to the caller.' },
  SERIES_NOT_FOUND: { kind: 'not_found', retryable: false, doc: 'No time series of this subject (account, machine or endpoint) is visible to the caller.' },
  DEPLOYMENT_HAS_NO_CODE: { kind: 'not_found', retryable: false, doc: 'The deployment was made from an image, not from code: it has no code to download.' },
  CODE_NOT_UPLOADED: {
    kind: 'conflict',
    retryable: true,
    doc: "The deployment's current code version is not uploaded yet; upload it with the upload_url the PUT answered.",
  },
  UPLOAD_TOKEN_INVALID: { kind: 'forbidden', retryable: false, doc: 'The upload or download token is missing, malformed or not signed by this server.' },
  UPLOAD_TOKEN_EXPIRED: {
    kind: 'forbidden',
    retryable: false,
    doc: 'The upload or download token has expired; PUT the deployment again (or ask for a new download_url).',
  },
  UPLOAD_TOKEN_USED: {
    kind: 'conflict',
    retryable: false,
    doc: 'The upload token was used already (each is good for one upload); PUT the deployment again for another.',
  },
  UPLOAD_TOKEN_MISMATCH: { kind: 'invalid', retryable: false, doc: "The upload token was issued for another code version than the form's key names." },
  UPLOAD_SIZE_MISMATCH: { kind: 'invalid', retryable: false, doc: "The uploaded file's size differs from the file_size the PUT declared; nothing was stored." },
  UPLOAD_FILE_MISSING: { kind: 'invalid', retryable: false, doc: "The upload form has no 'file' part; nothing was stored." },
  UPLOAD_TOO_LARGE: {
    kind: 'invalid',
    retryable: false,
    doc: 'The upload is larger than the server accepts (setting codeUploadMaxBytes); nothing was stored.',
  },
  INVALID_MULTIPART: { kind: 'invalid', retryable: false, doc: 'The upload body is not a well-formed multipart/form-data form.' },
  BLOB_STORE_UNAVAILABLE: { kind: 'unavailable', retryable: true, doc: 'This server has no blob store for code deployments (or it could not be written).' },
  NAME_TAKEN: { kind: 'conflict', retryable: false, doc: 'The account already has a live endpoint or deployment of this name.' },
  ENDPOINT_REFERENCED: {
    kind: 'conflict',
    retryable: false,
    doc: 'Other endpoints route to this one (route aliases): stop or delete them first, or stop with force=true; it keeps its name while they route to it.',
  },
  DEPLOYMENT_MANAGED: {
    kind: 'conflict',
    retryable: false,
    doc: "A deployment's endpoint holds only the workergroups its deployment makes: none is created on it or moved onto it through the workergroup API, and the deployment's is neither moved away nor deleted (change or delete the deployment instead).",
  },
  ENDPOINT_STOPPED: {
    kind: 'unavailable',
    retryable: true,
    log: 'info',
    doc: 'The endpoint is stopped, stopping or failed and takes no new requests (start it first), or a stop cut a request at its worker when it stopped the workers (at once for a plain stop, after its wait for a drain or an Elasticsearch stop; it may have been partly processed).',
  },
  NO_WORKERGROUP: {
    kind: 'unavailable',
    retryable: false,
    log: 'info',
    doc: 'The endpoint has no workergroup (its last one was deleted, or none was created yet), so no worker can serve the request; create a workergroup first.',
  },
  DATABASE_UNAVAILABLE: {
    kind: 'unavailable',
    retryable: true,
    doc: "The control plane cannot reach or write its database now (PostgreSQL stopped, restarting or cut off; SQLite's disk full or read-only); try again shortly. A write cut off at its commit may have been applied: read before repeating it.",
  },
  SHUTTING_DOWN: {
    kind: 'unavailable',
    retryable: true,
    doc: 'This control-plane process is shutting down and takes no new requests; try again (another replica, or once it is back).',
  },
  CALLER_LEFT: {
    kind: 'invalid',
    retryable: false,
    // One line per departure would be noise: a caller that leaves is counted in gantry_serverless_requests_total.
    log: 'debug',
    doc: 'The caller closed its connection while its request waited for a worker: it left the queue and was not processed (never answered: no one is left to answer; counted as CALLER_LEFT).',
  },
  QUEUE_TIMEOUT: {
    kind: 'timeout',
    retryable: true,
    doc: 'The request waited for a worker longer than the queue timeout (serverlessQueueTimeoutMs) and was not sent to any worker.',
  },
  QUEUE_FULL: {
    kind: 'rate_limited',
    retryable: true,
    doc: "The endpoint's request queue on this replica holds queueCapacity requests already; the request was refused at once and not processed.",
  },
  CONSOLE_STREAMS_LIMIT: {
    kind: 'rate_limited',
    retryable: true,
    doc: 'This API key holds consoleEventsStreamsPerKey console event streams open on this replica already; close a console tab or retry later.',
  },
  REQUEST_REJECTED_BY_STOP: {
    kind: 'rate_limited',
    retryable: true,
    doc: "The request was waiting in the queue when a stop that fails queued work (Elasticsearch's default) was called; it was not processed.",
  },
  INFERENCE_TIMEOUT: {
    kind: 'timeout',
    retryable: true,
    doc: "The request's own deadline (for example Elasticsearch's `_infer?timeout=`) passed before a worker answered; it may have been partly processed.",
  },
  STOP_TIMEOUT: {
    kind: 'timeout',
    retryable: true,
    doc: 'A synchronous stop did not see the deployment (or, stopping every workload, the endpoint or instance) stopped within its bound; the stop goes on, and waiting again shows when it ends.',
  },
  START_TIMEOUT: {
    kind: 'timeout',
    retryable: true,
    doc: "A trained-model deployment did not reach the state `wait_for` asked (started, fully_allocated) within the start's `timeout`; it keeps starting.",
  },
  STOP_FAILED: {
    kind: 'unavailable',
    retryable: true,
    doc: 'A stop ended failed: a worker or instance did not stop or failed to (the message names it); stop again, or delete the deployment.',
  },
  WORKER_FAILED: {
    kind: 'upstream',
    retryable: true,
    doc: 'The worker serving the request failed or vanished mid-request, or an update replaced, restarted or retired it after its drain ran out of time (the message says which); the request may have been partly processed.',
  },
  WORKER_TIMEOUT: { kind: 'timeout', retryable: true, doc: 'The worker did not answer within serverlessRequestTimeoutMs.' },
  ACCOUNT_NOT_FOUND: { kind: 'not_found', retryable: false, doc: 'No account with this id, name or email is visible to the caller.' },
  RECIPIENT_NOT_FOUND: { kind: 'not_found', retryable: false, doc: 'No account with this name, email or id to send credit to.' },
  ROLE_EXISTS: { kind: 'conflict', retryable: false, doc: 'The team has a role of this name already.' },
  USER_EXISTS: { kind: 'conflict', retryable: false, doc: 'An account with this username or email exists already.' },
  API_KEY_NOT_FOUND: { kind: 'not_found', retryable: false, doc: 'No API key with this id belongs to the caller.' },
  SECRET_NOT_FOUND: { kind: 'not_found', retryable: false, doc: 'The account has no env var (secret) of this name.' },
  SECRET_EXISTS: { kind: 'conflict', retryable: false, doc: 'The account has an env var of this name already; update it with PUT.' },
  SSH_KEY_NOT_FOUND: { kind: 'not_found', retryable: false, doc: 'No SSH key with this id belongs to the caller (or it is not attached to the instance).' },
  TEAM_NOT_FOUND: { kind: 'not_found', retryable: false, doc: 'The key does not act for a team, or the team or role named does not exist.' },
  TFA_NOT_SUPPORTED: { kind: 'invalid', retryable: false, doc: 'Two-factor authentication is not offered: Gantry authenticates every call with API keys.' },
  USER_FIELD_NOT_SUPPORTED: {
    kind: 'invalid',
    retryable: false,
    doc: '`set user` named a field Gantry does not keep (billing address, payout emails, balance thresholds, phone) or cannot change (username).',
  },
  SCHEDULED_JOBS_NOT_SUPPORTED: { kind: 'invalid', retryable: false, doc: 'Gantry runs no scheduled jobs: repeat a command with cron or a loop instead.' },
  SCHEDULED_JOB_NOT_FOUND: { kind: 'not_found', retryable: false, doc: 'No scheduled job with this id (Gantry keeps none).' },
  RESOURCE_GROUP_NOT_FOUND: { kind: 'not_found', retryable: false, doc: "The caller's account has no resource group of this id (`default` always exists)." },
  RESOURCE_GROUP_EXISTS: { kind: 'conflict', retryable: false, doc: 'The account has a resource group of this id already.' },
  RESOURCE_GROUP_PROTECTED: { kind: 'conflict', retryable: false, doc: 'The `default` resource group exists for every account and cannot be deleted.' },
  RESOURCE_GROUP_IN_USE: { kind: 'conflict', retryable: false, doc: 'The resource group still holds deployments or other resources; delete them first.' },
  UNSUPPORTED_GRANT_TYPE: { kind: 'invalid', retryable: false, doc: 'The token endpoint takes only `grant_type=client_credentials`.' },
  INSUFFICIENT_CREDIT: {
    kind: 'payment_required',
    retryable: false,
    doc: 'The credit balance is at or below zero (or below the amount to transfer); add credit first.',
  },
  TEMPLATE_INVALID: {
    kind: 'invalid',
    retryable: false,
    doc: 'A serving template (ServingTemplate YAML) does not parse or lacks a field; the message names the file and the field.',
  },
  EXECUTABLE_CHANGED: {
    kind: 'invalid',
    retryable: false,
    doc: "The configuration's executable changed since it was made and needs an input the configuration does not bind; create a new configuration.",
  },
  SCENARIO_NOT_FOUND: { kind: 'not_found', retryable: false, doc: 'No scenario with this id: no serving template of the account declares it.' },
  EXECUTABLE_NOT_FOUND: {
    kind: 'not_found',
    retryable: false,
    doc: 'No executable with this id in this scenario (the serving template was removed, or never loaded).',
  },
  CONFIGURATION_NOT_FOUND: { kind: 'not_found', retryable: false, doc: 'No configuration with this id in this resource group of the account.' },
  ARTIFACT_NOT_FOUND: { kind: 'not_found', retryable: false, doc: 'No artifact with this id in this resource group of the account.' },
  APPLICATION_NOT_FOUND: { kind: 'not_found', retryable: false, doc: 'No application (template repository) of this name.' },
  APPLICATION_EXISTS: { kind: 'conflict', retryable: false, doc: 'The account has an application of this name already.' },
  REPOSITORY_UNREADABLE: {
    kind: 'invalid',
    retryable: false,
    doc: "An application's repositoryUrl is not a local folder or git repository Gantry can read, or the revision or path does not exist in it.",
  },
  INVALID_INFERENCE_CONFIG: {
    kind: 'invalid',
    retryable: false,
    doc: "A trained model's `inference_config` (task, tokenization, labels) or a request's override of it is not one Gantry runs; the message names the field and what is supported.",
  },
  INPUT_FIELD_MISSING: {
    kind: 'invalid',
    retryable: false,
    doc: "An inference document lacks the model's input field (`input.field_names[0]`, default `text_field`).",
  },
  INPUT_TOO_LONG: {
    kind: 'invalid',
    retryable: false,
    doc: "The tokenized input is longer than the tokenization's `max_sequence_length` and `truncate` is `none`.",
  },
  MODEL_NOT_FOUND: { kind: 'not_found', retryable: false, doc: 'No trained model with this id (or matching this pattern) belongs to the caller.' },
  MODEL_EXISTS: { kind: 'conflict', retryable: false, doc: 'The account has a trained model with this id already; delete it first or choose another id.' },
  MODEL_TYPE_UNSUPPORTED: {
    kind: 'invalid',
    retryable: false,
    doc: 'Gantry runs ONNX models (`model_type: "onnx"`); TorchScript (`pytorch`), `tree_ensemble` and `lang_ident` are refused (docs/elastic-models.md says how to export to ONNX).',
  },
  MODEL_DEFINITION_INVALID: {
    kind: 'invalid',
    retryable: false,
    doc: 'A definition part is not valid base64, its index or totals disagree with the other parts, the lengths do not add up, or the assembled bytes are not an ONNX model Gantry can run.',
  },
  MODEL_DEFINITION_MISSING: { kind: 'not_found', retryable: false, doc: 'The model has no complete, checked definition yet: upload every part first.' },
  MODEL_DEFINITION_EXISTS: { kind: 'conflict', retryable: false, doc: 'The model is fully defined: no part may change it; delete it to upload another.' },
  MODEL_IN_USE: {
    kind: 'conflict',
    retryable: false,
    doc: 'The model is deployed or referenced by an ingest pipeline; stop the deployments or remove the references first, or delete with force=true.',
  },
  MODEL_UPLOADS_BUSY: {
    kind: 'rate_limited',
    retryable: true,
    doc: 'This replica was reading modelUploadConcurrency large definition-part or vocabulary bodies already, for longer than modelUploadWaitMs; the body was not parsed. Retry after the time given.',
  },
  PIPELINE_NOT_FOUND: { kind: 'not_found', retryable: false, doc: 'No ingest pipeline with this id (or matching this pattern) belongs to the caller.' },
  PROCESSOR_UNSUPPORTED: {
    kind: 'invalid',
    retryable: false,
    doc: 'An ingest pipeline holds a processor Gantry does not run: only `inference` processors are supported.',
  },
  NOT_SUPPORTED: { kind: 'invalid', retryable: false, doc: 'A Vast.ai verb Gantry does not offer on purpose; the message says why and what to use instead.' },
  PRICE_INCREASE_NOT_FOUND: { kind: 'not_found', retryable: false, doc: 'No pending price increase: an instance keeps the price of its creation.' },
  // Volumes (issue 15)
  VOLUME_NOT_FOUND: { kind: 'not_found', retryable: false, doc: 'No volume with this id is visible to the caller.' },
  VOLUME_OFFER_NOT_FOUND: { kind: 'not_found', retryable: false, doc: 'No listed volume offer with this id (search volumes for current ids).' },
  VOLUME_IN_USE: { kind: 'conflict', retryable: false, doc: 'The volume is linked into an instance that is not destroyed; destroy that instance first.' },
  VOLUME_CLONING: {
    kind: 'conflict',
    retryable: true,
    doc: 'The volume is a clone whose copy its host has not confirmed: it cannot be linked, cloned or copied from until then (a copy that never completes is removed).',
  },
  VOLUME_SPACE_EXHAUSTED: { kind: 'conflict', retryable: false, doc: 'The volume offer has less free space than the size asked for.' },
  VOLUME_WRONG_MACHINE: {
    kind: 'invalid',
    retryable: false,
    doc: "A volume's data lives on one machine: it links only into instances there, and clones only to an offer of the same machine.",
  },
  NETWORK_VOLUMES_NOT_OFFERED: {
    kind: 'invalid',
    retryable: false,
    doc: 'Gantry has no network storage shared between hosts: network volumes and network disks are not offered (docs/decisions/009-network-volumes.md).',
  },
  SNAPSHOT_UNAVAILABLE: {
    kind: 'invalid',
    retryable: false,
    doc: "The instance's host cannot take a snapshot now (no workload disk yet, or a runtime without snapshots).",
  },
  NO_SSH_ACCESS: {
    kind: 'conflict',
    retryable: false,
    doc: "execute and copy run over the instance's SSH access: the instance is not running, predates SSH access, or its host cannot run commands in it.",
  },
  COPY_UNAVAILABLE: {
    kind: 'invalid',
    retryable: false,
    doc: 'A copy Gantry does not offer: to or from a cloud connection (none offline), a VM image (no VMs), or a volume.',
  },
  SERVER_RUNNING: {
    kind: 'conflict',
    retryable: false,
    doc: 'Another Gantry server holds this data dir (or its port): the message names its URL and pid; stop it with `gantry down` or use another --data-dir.',
  },
  INTERNAL: { kind: 'internal', retryable: true, doc: 'An unexpected fault; the response carries a request id to find it in the logs.' },
} as const satisfies Record<string, CodeSpec>;
