import { MAX_LABELS } from '../../../domain/labels.js';

/** JSON schemas of the catalog routes: ajv errors become INVALID_ARGUMENT naming the field; unknown body fields are refused. */

export const ID = '^[\\w.-]{4,64}$';
const NAME = '^[\\w\\s.!?,;:\\[\\](){}<>"\'=+*/\\\\^&%@~$#|-]*$';

const label = {
  type: 'object',
  required: ['key', 'value'],
  additionalProperties: false,
  properties: { key: { type: 'string', maxLength: 256 }, value: { type: 'string', maxLength: 5000 } },
} as const;

export const pageQuery = {
  $top: { type: 'integer', minimum: 0, maximum: 100000, default: 10000 },
  $skip: { type: 'integer', minimum: 0, default: 0 },
} as const;

export const searchQuery = {
  $search: { type: 'string', pattern: '^[^~]{1,80}$' },
  searchCaseInsensitive: { type: 'boolean', default: false },
} as const;

export const configurationBodySchema = {
  type: 'object',
  required: ['name', 'executableId', 'scenarioId'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 256, pattern: NAME },
    executableId: { type: 'string', pattern: ID },
    scenarioId: { type: 'string', pattern: ID },
    parameterBindings: { type: 'array', maxItems: 1000, items: label },
    inputArtifactBindings: {
      type: 'array',
      maxItems: 1000,
      items: {
        type: 'object',
        required: ['key', 'artifactId'],
        additionalProperties: false,
        properties: { key: { type: 'string', maxLength: 256 }, artifactId: { type: 'string', pattern: ID } },
      },
    },
  },
} as const;

export const artifactBodySchema = {
  type: 'object',
  required: ['name', 'kind', 'url', 'scenarioId'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 256, pattern: NAME },
    kind: { type: 'string', enum: ['model', 'dataset', 'resultset', 'other'] },
    url: { type: 'string', maxLength: 1024, pattern: '^([a-z0-9-]+):\\/\\/.+' },
    description: { type: 'string', maxLength: 5000 },
    scenarioId: { type: 'string', pattern: ID },
    labels: { type: 'array', maxItems: MAX_LABELS, items: label },
  },
} as const;

export const templatesBodySchema = {
  type: 'object',
  required: ['files'],
  additionalProperties: false,
  properties: {
    files: {
      type: 'array',
      minItems: 1,
      maxItems: 500,
      items: {
        type: 'object',
        required: ['name', 'content'],
        additionalProperties: false,
        properties: { name: { type: 'string', minLength: 1, maxLength: 1024 }, content: { type: 'string' } },
      },
    },
  },
} as const;

const appFields = {
  repositoryUrl: { type: 'string', minLength: 1, maxLength: 4096 },
  revision: { type: 'string', minLength: 1, maxLength: 200 },
  path: { type: 'string', maxLength: 4096 },
} as const;

export const applicationBodySchema = {
  type: 'object',
  required: ['repositoryUrl', 'path'],
  additionalProperties: false,
  properties: { ...appFields, applicationName: { type: 'string', minLength: 3, maxLength: 54, pattern: '^[a-z0-9-]+$' } },
} as const;

export const applicationPatchSchema = {
  type: 'object',
  required: ['repositoryUrl', 'path'],
  additionalProperties: false,
  properties: appFields,
} as const;

export const applicationParams = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', minLength: 3, maxLength: 63, pattern: '^[a-z0-9-]+$' } },
} as const;
