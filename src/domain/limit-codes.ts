import type { CodeSpec } from './error-spec.js';

/**
 * The error codes of the bounds on what one account holds: part of ERROR_CODES (error-codes.ts), kept
 * here so that table stays short.
 */
export const LIMIT_CODES = {
  SECRET_LIMIT: { kind: 'invalid', retryable: false, doc: 'The account holds the most env vars (secrets) it may.' },
  HOST_TOKEN_LIMIT: {
    kind: 'invalid',
    retryable: false,
    doc: 'The account holds the most host tokens it may (setting maxHostTokensPerAccount; each machine holds one); delete a machine or ask an admin.',
  },
  API_KEY_LIMIT: { kind: 'invalid', retryable: false, doc: 'The account holds the most API keys it may (setting maxApiKeysPerAccount); revoke one first.' },
  ACCOUNT_LIMIT: {
    kind: 'invalid',
    retryable: false,
    doc: 'The top-level account holds the most subaccounts and teams it may, at any depth (setting maxSubaccountsPerAccount); delete one first.',
  },
  ENDPOINT_LIMIT: {
    kind: 'invalid',
    retryable: false,
    doc: 'The account holds the most endpoints and deployments it may (setting maxEndpointsPerAccount); delete one first.',
  },
  WORKERGROUP_LIMIT: {
    kind: 'invalid',
    retryable: false,
    doc: 'The account holds the most workergroups it may, those of its deployments included (setting maxWorkergroupsPerAccount), or the endpoint does (setting maxWorkergroupsPerEndpoint); delete one first.',
  },
  TEMPLATE_LIMIT: { kind: 'invalid', retryable: false, doc: 'The account holds the most templates it may (setting maxTemplatesPerAccount); delete one first.' },
  SSH_KEY_LIMIT: { kind: 'invalid', retryable: false, doc: 'The account holds the most SSH keys it may (setting maxSshKeysPerAccount); delete one first.' },
  RESOURCE_GROUP_LIMIT: {
    kind: 'invalid',
    retryable: false,
    doc: 'The account holds the most resource groups besides `default` it may (setting maxResourceGroupsPerAccount); delete one first.',
  },
  ARTIFACT_LIMIT: {
    kind: 'invalid',
    retryable: false,
    doc: 'The account holds the most artifacts it may, over all its resource groups (setting maxArtifactsPerAccount); artifacts cannot be deleted, an admin can raise the bound.',
  },
  CONFIGURATION_LIMIT: {
    kind: 'invalid',
    retryable: false,
    doc: 'The account holds the most configurations it may, over all its resource groups (setting maxConfigurationsPerAccount); configurations cannot be deleted, an admin can raise the bound.',
  },
  EXECUTABLE_LIMIT: {
    kind: 'invalid',
    retryable: false,
    doc: 'The serving templates loaded would take the account past the most executables it may hold (setting maxExecutablesPerAccount); nothing was stored.',
  },
  TRAINED_MODEL_LIMIT: {
    kind: 'invalid',
    retryable: false,
    doc: 'The account holds the most trained models it may (setting maxTrainedModelsPerAccount); delete one first.',
  },
  MODEL_STORAGE_LIMIT: {
    kind: 'invalid',
    retryable: false,
    doc: "The part would take the account's stored definition bytes past maxModelDefinitionBytesPerAccount; it was not stored. Delete a model (or let an unfinished upload expire) first.",
  },
  PIPELINE_LIMIT: {
    kind: 'invalid',
    retryable: false,
    doc: 'The account holds the most ingest pipelines it may (setting maxIngestPipelinesPerAccount); delete one first. Replacing a pipeline it holds is always allowed.',
  },
} as const satisfies Record<string, CodeSpec>;
