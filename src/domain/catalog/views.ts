import { GantryError } from '../errors.js';
import type { ArtifactRecord, ConfigurationRecord, ExecutableRecord, KeyValue, ScenarioView, VersionView } from './records.js';

/** Scenarios and versions as their executables describe them; list filters of configurations and artifacts. */

/** One scenario per id; name and description from its newest executable. */
export function scenariosOf(executables: readonly ExecutableRecord[]): ScenarioView[] {
  const byId = new Map<string, ExecutableRecord[]>();
  for (const e of executables) byId.set(e.scenarioId, [...(byId.get(e.scenarioId) ?? []), e]);
  return [...byId.entries()]
    .map(([id, list]) => {
      const newest = list.reduce((a, b) => (b.modifiedAt > a.modifiedAt ? b : a));
      const labels = new Map<string, string>();
      for (const e of list) for (const l of e.labels) labels.set(l.key, l.value);
      return {
        id,
        name: newest.scenarioName,
        description: newest.scenarioDescription,
        labels: [...labels.entries()].map(([key, value]) => ({ key, value })),
        createdAt: Math.min(...list.map((e) => e.createdAt)),
        modifiedAt: Math.max(...list.map((e) => e.modifiedAt)),
      };
    })
    .sort((a, b) => a.id.localeCompare(b.id));
}

const SELECTOR = /^(ext\.ai\.sap\.com\/[\w.-]+)(!?=)([^ =,]+)$/;

/** `labelSelector` (`key=value`, `key!=value`, ANDed) → a predicate on labels; a malformed expression is INVALID_ARGUMENT. */
export function labelPredicate(selectors: readonly string[], field: string): (labels: readonly KeyValue[]) => boolean {
  const tests = selectors.map((s) => {
    const m = SELECTOR.exec(s);
    if (!m) throw new GantryError('INVALID_ARGUMENT', `${field} '${s}' is not of the form ext.ai.sap.com/KEY=VALUE or ext.ai.sap.com/KEY!=VALUE.`, { field });
    const [, key, op, value] = m as unknown as [string, string, string, string];
    return (labels: readonly KeyValue[]) => labels.some((l) => l.key === key && l.value === value) === (op === '=');
  });
  return (labels) => tests.every((t) => t(labels));
}

/** The versions of a scenario: one per `versionId` among its executables, labelled with their labels. */
export function versionsOf(executables: readonly ExecutableRecord[], scenarioId: string, selectors: readonly string[]): VersionView[] {
  const match = labelPredicate(selectors, 'labelSelector');
  const byVersion = new Map<string, ExecutableRecord[]>();
  for (const e of executables) if (e.scenarioId === scenarioId) byVersion.set(e.versionId, [...(byVersion.get(e.versionId) ?? []), e]);
  return [...byVersion.entries()]
    .filter(([, list]) => match(list.flatMap((e) => e.labels)))
    .map(([id, list]) => ({
      id,
      scenarioId,
      createdAt: Math.min(...list.map((e) => e.createdAt)),
      modifiedAt: Math.max(...list.map((e) => e.modifiedAt)),
    }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

export interface Page {
  readonly top: number;
  readonly skip: number;
}

export interface Search {
  readonly text: string | null;
  readonly caseInsensitive: boolean;
}

/** `$search`: at most 80 characters, no `~` (AI Core's rule). */
export function checkSearch(text: string | null): void {
  if (text !== null && !/^[^~]{1,80}$/.test(text))
    throw new GantryError('INVALID_ARGUMENT', `$search must be 1 to 80 characters without '~'.`, { field: '$search' });
}

function contains(hay: readonly (string | null)[], s: Search): boolean {
  if (s.text === null) return true;
  const needle = s.caseInsensitive ? s.text.toLowerCase() : s.text;
  return hay.some((h) => h !== null && (s.caseInsensitive ? h.toLowerCase() : h).includes(needle));
}

export interface ConfigurationFilter {
  readonly scenarioId: string | null;
  readonly executableIds: readonly string[] | null;
  readonly search: Search;
}

/** Newest first, as AI Core lists them. */
export function filterConfigurations(all: readonly ConfigurationRecord[], f: ConfigurationFilter): ConfigurationRecord[] {
  return all
    .filter((c) => f.scenarioId === null || c.scenarioId === f.scenarioId)
    .filter((c) => f.executableIds === null || f.executableIds.includes(c.executableId))
    .filter((c) => contains([c.name, c.id, c.executableId, c.scenarioId], f.search))
    .sort((a, b) => b.createdAt - a.createdAt || a.id.localeCompare(b.id));
}

export interface ArtifactFilter {
  readonly scenarioId: string | null;
  readonly name: string | null;
  readonly kind: string | null;
  readonly labelSelector: readonly string[];
  readonly search: Search;
}

export function filterArtifacts(all: readonly ArtifactRecord[], f: ArtifactFilter): ArtifactRecord[] {
  const labels = labelPredicate(f.labelSelector, 'artifactLabelSelector');
  return all
    .filter((a) => f.scenarioId === null || a.scenarioId === f.scenarioId)
    .filter((a) => f.name === null || a.name === f.name)
    .filter((a) => f.kind === null || a.kind === f.kind)
    .filter((a) => labels(a.labels))
    .filter((a) => contains([a.name, a.description], f.search))
    .sort((a, b) => b.createdAt - a.createdAt || a.id.localeCompare(b.id));
}

export function page<T>(rows: readonly T[], p: Page): T[] {
  return rows.slice(p.skip, p.skip + p.top);
}
