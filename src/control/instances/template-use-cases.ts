import type { CreateInstanceRequest } from '../../domain/instance/create.js';
import type { InstanceRecord } from '../../domain/instance/instance.js';
import type { TemplateSpec } from '../../domain/instance/template.js';
import type { OfferSearch } from '../../domain/offer/search.js';
import type { ControlContext } from '../context.js';
import type { Principal } from '../principal.js';
import { createInstances, launchInstance } from './launch-instance.js';
import * as templates from './templates.js';
import { updateInstanceWorkload } from './update-instance.js';

/** Templates and the instance verbs built on them (launch, bulk create, update from a template), bound to one context. */
export function templateUseCases(ctx: ControlContext) {
  return {
    resolve: (p: Principal, ref: templates.TemplateRef, action: Parameters<typeof templates.resolveTemplate>[3], resourceId: number | null = null) =>
      templates.resolveTemplate(ctx, p, ref, action, resourceId),
    list: (p: Principal) => templates.listTemplates(ctx, p),
    create: (p: Principal, spec: TemplateSpec, isPrivate: boolean) => templates.createTemplate(ctx, p, spec, isPrivate),
    update: (p: Principal, hashId: string | null, patch: Partial<TemplateSpec>, isPrivate: boolean | null) =>
      templates.updateTemplate(ctx, p, hashId, patch, isPrivate),
    delete: (p: Principal, ref: templates.TemplateRef) => templates.deleteTemplate(ctx, p, ref),
    workergroupSource: (p: Principal, ref: templates.TemplateRef) => templates.workergroupSource(ctx, p, ref),
    launchInstance: (p: Principal, q: OfferSearch, request: (offerId: number) => CreateInstanceRequest) => launchInstance(ctx, p, q, request),
    createInstances: (p: Principal, offerIds: readonly number[], request: (offerId: number) => CreateInstanceRequest) =>
      createInstances(ctx, p, offerIds, request),
    updateInstance: (p: Principal, id: number, build: (current: InstanceRecord) => CreateInstanceRequest) => updateInstanceWorkload(ctx, p, id, build),
  };
}

export type TemplateUseCases = ReturnType<typeof templateUseCases>;
