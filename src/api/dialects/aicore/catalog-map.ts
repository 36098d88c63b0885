import type { ApplicationRecord, ArtifactRecord, ConfigurationRecord, ExecutableRecord, ScenarioView, VersionView } from '../../../domain/catalog/records.js';

/** Catalog records in AI Core's wire shapes (AiScenario, AiExecutable, AiVersion, AiConfiguration, AiArtifact, applications). */

import { isoTime as iso } from './query.js';

/** Optional fields are left out rather than sent as null (the spec marks them optional, not nullable). */
function opt<K extends string, V>(key: K, v: V | null | undefined): Partial<Record<K, V>> {
  return v === null || v === undefined ? {} : ({ [key]: v } as Record<K, V>);
}

export function scenarioBody(s: ScenarioView): Record<string, unknown> {
  return {
    id: s.id,
    name: s.name,
    ...opt('description', s.description),
    ...(s.labels.length > 0 ? { labels: s.labels } : {}),
    createdAt: iso(s.createdAt),
    modifiedAt: iso(s.modifiedAt),
  };
}

export function executableBody(e: ExecutableRecord): Record<string, unknown> {
  return {
    id: e.id,
    name: e.name,
    ...opt('description', e.description),
    scenarioId: e.scenarioId,
    versionId: e.versionId,
    deployable: true,
    ...(e.labels.length > 0 ? { labels: e.labels } : {}),
    parameters: e.parameters.map((p) => ({ name: p.name, type: p.type, ...opt('default', p.default), ...opt('description', p.description) })),
    inputArtifacts: e.inputArtifacts.map((a) => ({ name: a.name, ...opt('kind', a.kind), ...opt('description', a.description) })),
    outputArtifacts: [],
    createdAt: iso(e.createdAt),
    modifiedAt: iso(e.modifiedAt),
  };
}

export function versionBody(v: VersionView): Record<string, unknown> {
  return { id: v.id, scenarioId: v.scenarioId, createdAt: iso(v.createdAt), modifiedAt: iso(v.modifiedAt) };
}

export function configurationBody(c: ConfigurationRecord, scenario?: ScenarioView | null): Record<string, unknown> {
  return {
    id: c.id,
    name: c.name,
    executableId: c.executableId,
    scenarioId: c.scenarioId,
    parameterBindings: c.parameterBindings,
    inputArtifactBindings: c.inputArtifactBindings,
    createdAt: iso(c.createdAt),
    ...(scenario === undefined ? {} : { scenario: scenario === null ? null : scenarioBody(scenario) }),
  };
}

export function artifactBody(a: ArtifactRecord, scenario?: ScenarioView | null): Record<string, unknown> {
  return {
    id: a.id,
    name: a.name,
    kind: a.kind,
    url: a.url,
    scenarioId: a.scenarioId,
    ...opt('description', a.description),
    ...(a.labels.length > 0 ? { labels: a.labels } : {}),
    createdAt: iso(a.createdAt),
    modifiedAt: iso(a.modifiedAt),
    ...(scenario === undefined ? {} : { scenario: scenario === null ? null : scenarioBody(scenario) }),
  };
}

export function applicationBody(a: ApplicationRecord): Record<string, unknown> {
  return { applicationName: a.name, repositoryUrl: a.repositoryUrl, path: a.path, revision: a.revision };
}

export function applicationStatusBody(a: ApplicationRecord): Record<string, unknown> {
  return {
    healthStatus: a.syncStatus === 'Synced' ? 'Healthy' : 'Degraded',
    syncStatus: a.syncStatus,
    message: a.syncMessage,
    source: { repoURL: a.repositoryUrl, path: a.path, revision: a.revision },
    ...opt('syncStartedAt', a.syncStartedAt === null ? null : iso(a.syncStartedAt)),
    ...opt('syncFinishedAt', a.syncFinishedAt === null ? null : iso(a.syncFinishedAt)),
    ...opt('reconciledAt', a.syncFinishedAt === null ? null : iso(a.syncFinishedAt)),
    syncResourcesStatus: a.synced.map((s) => ({ name: s.executableId, kind: 'ServingTemplate', status: 'Synced', message: s.file })),
  };
}
