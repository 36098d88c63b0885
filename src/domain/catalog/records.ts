/** Catalog entities: executables (from serving templates), applications, configurations, artifacts. */

export interface KeyValue {
  readonly key: string;
  readonly value: string;
}

export interface TemplateParameter {
  readonly name: string;
  /** Always a string on the wire (AI Core parameters are strings). */
  readonly default: string | null;
  readonly type: 'string';
  readonly description: string | null;
}

export interface TemplateArtifact {
  readonly name: string;
  /** From the annotation `artifacts.ai.sap.com/<name>.kind` (model, dataset, …). */
  readonly kind: string | null;
  readonly description: string | null;
}

/** The KServe predictor of a serving template: one container, as AI Core runs it. */
export interface Predictor {
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly image: string;
  readonly command: readonly string[];
  readonly args: readonly string[];
  readonly env: readonly { readonly name: string; readonly value: string }[];
  readonly ports: readonly { readonly containerPort: number; readonly protocol: 'TCP' | 'UDP' }[];
  /** Kubernetes resources as written; kept for the record, placement comes from the resource plan. */
  readonly resources: unknown;
}

/** One parsed ServingTemplate: an executable of a scenario. */
export interface ExecutableSpec {
  readonly id: string;
  readonly name: string;
  readonly description: string | null;
  readonly scenarioId: string;
  readonly scenarioName: string;
  readonly scenarioDescription: string | null;
  readonly versionId: string;
  /** `ext.ai.sap.com/*` labels of the template. */
  readonly labels: readonly KeyValue[];
  readonly parameters: readonly TemplateParameter[];
  readonly inputArtifacts: readonly TemplateArtifact[];
  readonly predictor: Predictor;
  /** `ai.sap.com/resourcePlan` (starter, infer.s, …); null when the template names none. */
  readonly resourcePlan: string | null;
  /** The template's `spec.template.metadata.annotations` (autoscaling hints). */
  readonly annotations: Readonly<Record<string, string>>;
  /** The file it came from, for errors and listings. */
  readonly sourceFile: string;
}

export interface ExecutableRecord extends ExecutableSpec {
  readonly accountId: number;
  /** The application whose sync provided it; null when loaded from files directly. */
  readonly application: string | null;
  readonly createdAt: number;
  readonly modifiedAt: number;
}

/** A scenario is what its executables say of it; it exists while one of them does. */
export interface ScenarioView {
  readonly id: string;
  readonly name: string;
  readonly description: string | null;
  readonly labels: readonly KeyValue[];
  readonly createdAt: number;
  readonly modifiedAt: number;
}

export interface VersionView {
  readonly id: string;
  readonly scenarioId: string;
  readonly createdAt: number;
  readonly modifiedAt: number;
}

export type SyncStatus = 'Synced' | 'OutOfSync';

export interface ApplicationRecord {
  readonly accountId: number;
  readonly name: string;
  readonly repositoryUrl: string;
  readonly path: string;
  readonly revision: string;
  readonly createdAt: number;
  readonly modifiedAt: number;
  readonly syncStatus: SyncStatus;
  readonly syncMessage: string;
  readonly syncStartedAt: number | null;
  readonly syncFinishedAt: number | null;
  /** Executables the last successful sync provided, with the file each came from. */
  readonly synced: readonly { readonly executableId: string; readonly file: string }[];
}

export interface ConfigurationRecord {
  readonly id: string;
  readonly accountId: number;
  readonly resourceGroup: string;
  readonly name: string;
  readonly executableId: string;
  readonly scenarioId: string;
  readonly parameterBindings: readonly KeyValue[];
  readonly inputArtifactBindings: readonly { readonly key: string; readonly artifactId: string }[];
  readonly createdAt: number;
}

export type ArtifactKind = 'model' | 'dataset' | 'resultset' | 'other';
export const ARTIFACT_KINDS: readonly ArtifactKind[] = ['model', 'dataset', 'resultset', 'other'];

export interface ArtifactRecord {
  readonly id: string;
  readonly accountId: number;
  readonly resourceGroup: string;
  readonly name: string;
  readonly kind: ArtifactKind;
  readonly url: string;
  readonly scenarioId: string;
  readonly description: string | null;
  readonly labels: readonly KeyValue[];
  readonly createdAt: number;
  readonly modifiedAt: number;
}
