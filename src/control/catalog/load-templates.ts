import type { ExecutableRecord } from '../../domain/catalog/records.js';
import type { ControlContext } from '../context.js';
import { authorize, type Principal } from '../principal.js';
import type { TemplateFile } from './template-files.js';
import { parseTemplateFilesOffThread } from './template-parser.js';

/**
 * `gantry create serving-template FILE...`: every template of the files becomes an executable of the
 * caller's account (visible from every resource group), replacing one of the same id. All or none:
 * one bad file and nothing is stored.
 */
export async function loadServingTemplates(ctx: ControlContext, p: Principal, files: readonly TemplateFile[]): Promise<ExecutableRecord[]> {
  authorize(p, 'catalog.write');
  const specs = await parseTemplateFilesOffThread(files, 'fail', ctx.settings.templateParseTimeoutMs);
  return ctx.store.putExecutables(p.accountId, specs, { application: null }, ctx.clock.now(), p.isAdmin ? 0 : ctx.settings.maxExecutablesPerAccount);
}
