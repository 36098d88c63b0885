import type { ArtifactFilter, Page } from '../../domain/catalog/views.js';
import type { ControlContext } from '../context.js';
import type { Principal } from '../principal.js';
import * as applications from './applications.js';
import * as artifacts from './artifacts.js';
import * as configurations from './configurations.js';
import { loadServingTemplates } from './load-templates.js';
import { renderConfiguration } from './render-configuration.js';
import { deployConfiguration, deployOtherConfiguration, servingSource } from './deploy-configuration.js';
import * as scenarios from './scenarios.js';
import type { TemplateFile } from './template-files.js';

export type { RenderedConfiguration } from './render-configuration.js';
export { renderConfiguration } from './render-configuration.js';
export type { ApplicationInput } from './applications.js';
export type { ArtifactInput } from './artifacts.js';
export type { ConfigurationInput, ConfigurationQuery } from './configurations.js';
export type { ModelView } from './scenarios.js';
export type { TemplateFile } from './template-files.js';

/** AI Core's catalog as engine use cases: `control.catalog.*`. `rg` is the resource group (the AI-Resource-Group header). */
export function catalogUseCases(ctx: ControlContext) {
  return {
    /** Deploy a configuration (AI Core's POST /lm/deployments). */
    deployConfiguration: (p: Principal, r: Parameters<typeof deployConfiguration>[2]) => deployConfiguration(ctx, p, r),
    servingSource: (p: Principal, d: Parameters<typeof servingSource>[2]) => servingSource(ctx, p, d),
    /** Roll a deployment over to another configuration of its resource group. */
    deployOtherConfiguration: (p: Principal, ref: Parameters<typeof deployOtherConfiguration>[2], configurationId: string) =>
      deployOtherConfiguration(ctx, p, ref, configurationId),
    /** All files parse or nothing is stored; each template replaces the account's executable of its id. */
    loadServingTemplates: (p: Principal, files: readonly TemplateFile[]) => loadServingTemplates(ctx, p, files),
    createApplication: (p: Principal, a: applications.ApplicationInput) => applications.createApplication(ctx, p, a),
    updateApplication: (p: Principal, name: string, a: Omit<applications.ApplicationInput, 'applicationName'>) =>
      applications.updateApplication(ctx, p, name, a),
    refreshApplication: (p: Principal, name: string) => applications.refreshApplication(ctx, p, name),
    getApplication: (p: Principal, name: string) => applications.getApplication(ctx, p, name),
    listApplications: (p: Principal) => applications.listApplications(ctx, p),
    deleteApplication: (p: Principal, name: string) => applications.deleteApplication(ctx, p, name),

    listScenarios: (p: Principal, rg: string) => scenarios.listScenarios(ctx, p, rg),
    getScenario: (p: Principal, rg: string, id: string) => scenarios.getScenario(ctx, p, rg, id),
    /** null when no executable declares it ($expand=scenario). */
    findScenario: (p: Principal, rg: string, id: string) => scenarios.findScenario(ctx, p, rg, id),
    listExecutables: (p: Principal, rg: string, scenarioId: string, versionId: string | null) => scenarios.listExecutables(ctx, p, rg, scenarioId, versionId),
    getExecutable: (p: Principal, rg: string, scenarioId: string, executableId: string) => scenarios.getExecutable(ctx, p, rg, scenarioId, executableId),
    listVersions: (p: Principal, rg: string, scenarioId: string, labelSelector: readonly string[]) =>
      scenarios.listVersions(ctx, p, rg, scenarioId, labelSelector),
    listModels: (p: Principal, rg: string, scenarioId: string) => scenarios.listModels(ctx, p, rg, scenarioId),

    createConfiguration: (p: Principal, rg: string, c: configurations.ConfigurationInput) => configurations.createConfiguration(ctx, p, rg, c),
    listConfigurations: (p: Principal, rg: string, q: configurations.ConfigurationQuery & { readonly page: Page }) =>
      configurations.listConfigurations(ctx, p, rg, q),
    countConfigurations: (p: Principal, rg: string, q: configurations.ConfigurationQuery) => configurations.countConfigurations(ctx, p, rg, q),
    getConfiguration: (p: Principal, rg: string, id: string) => configurations.getConfiguration(ctx, p, rg, id),

    createArtifact: (p: Principal, rg: string, a: artifacts.ArtifactInput) => artifacts.createArtifact(ctx, p, rg, a),
    listArtifacts: (p: Principal, rg: string, q: ArtifactFilter & { readonly page: Page }) => artifacts.listArtifacts(ctx, p, rg, q),
    countArtifacts: (p: Principal, rg: string, q: ArtifactFilter) => artifacts.countArtifacts(ctx, p, rg, q),
    getArtifact: (p: Principal, rg: string, id: string) => artifacts.getArtifact(ctx, p, rg, id),

    /** What a deployment made from the configuration runs (the integrator's contract). */
    renderConfiguration: (p: Principal, rg: string, configurationId: string) => renderConfiguration(ctx, p, rg, configurationId),
  };
}

export type CatalogUseCases = ReturnType<typeof catalogUseCases>;
