import type { ApplicationRecord } from '../../domain/catalog/records.js';
import { GantryError } from '../../domain/errors.js';
import type { ControlContext } from '../context.js';
import { authorizeAdmin, type Principal } from '../principal.js';
import { readRepository } from './repository.js';
import { parseTemplateFilesOffThread } from './template-parser.js';

/**
 * Applications: a local folder or git repository of serving templates, synced into executables on
 * create and on refresh. Reading the server's disk is an operator's right, so these are admin-only;
 * other accounts load templates by uploading them (`loadServingTemplates`).
 */
export interface ApplicationInput {
  readonly applicationName: string | null;
  readonly repositoryUrl: string;
  readonly path: string;
  readonly revision: string | null;
}

const NAME = /^[a-z0-9-]{3,54}$/;

function nameOf(input: ApplicationInput): string {
  if (input.applicationName !== null) {
    if (!NAME.test(input.applicationName))
      throw new GantryError('INVALID_ARGUMENT', `applicationName must be 3-54 lower-case letters, digits or '-'.`, { field: 'applicationName' });
    return input.applicationName;
  }
  // AI Core derives a name from the repository when none is given.
  const base = input.repositoryUrl.replace(/\/+$/, '').split('/').pop() ?? '';
  const derived = base
    .toLowerCase()
    .replace(/\.git$/, '')
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 54);
  if (!NAME.test(derived)) throw new GantryError('MISSING_INPUT', 'Name the application (applicationName).', { field: 'applicationName' });
  return derived;
}

async function own(ctx: ControlContext, p: Principal, name: string): Promise<ApplicationRecord> {
  const a = await ctx.store.getApplication(p.accountId, name);
  if (!a) throw new GantryError('APPLICATION_NOT_FOUND', `No application named '${name}'.`, { applicationName: name });
  return a;
}

/** Read, parse, store; on failure the application records why and keeps its executables, and the error is thrown. */
async function sync(ctx: ControlContext, a: ApplicationRecord, store: (a: ApplicationRecord) => Promise<void>): Promise<ApplicationRecord> {
  const started = ctx.clock.now();
  try {
    const { files, commit } = await readRepository(a.repositoryUrl, a.path, a.revision, ctx.settings.gitTimeoutMs);
    const specs = await parseTemplateFilesOffThread(files, 'skip', ctx.settings.templateParseTimeoutMs);
    const now = ctx.clock.now();
    await store(a);
    await ctx.store.putExecutables(a.accountId, specs, { application: a.name }, now);
    const synced = specs.map((s) => ({ executableId: s.id, file: s.sourceFile }));
    const done: ApplicationRecord = {
      ...a,
      modifiedAt: now,
      syncStatus: 'Synced',
      syncMessage: `${specs.length} serving template(s) from ${files.length} file(s)${commit !== null ? ` at ${commit.slice(0, 12)}` : ''}`,
      syncStartedAt: started,
      syncFinishedAt: now,
      synced,
    };
    await ctx.store.updateApplication(done);
    return done;
  } catch (err) {
    if (!(err instanceof GantryError)) throw err;
    const failed: ApplicationRecord = { ...a, syncStatus: 'OutOfSync', syncMessage: err.message, syncStartedAt: started, syncFinishedAt: ctx.clock.now() };
    // A first sync that fails creates nothing; a refresh that fails says why in the status.
    if (await ctx.store.getApplication(a.accountId, a.name)) await ctx.store.updateApplication(failed);
    throw err;
  }
}

export async function createApplication(ctx: ControlContext, p: Principal, input: ApplicationInput): Promise<ApplicationRecord> {
  authorizeAdmin(p, 'catalog.write');
  const name = nameOf(input);
  if (await ctx.store.getApplication(p.accountId, name))
    throw new GantryError('APPLICATION_EXISTS', `An application named '${name}' exists already.`, { name });
  const now = ctx.clock.now();
  const a: ApplicationRecord = {
    accountId: p.accountId,
    name,
    repositoryUrl: input.repositoryUrl,
    path: input.path,
    revision: input.revision ?? 'HEAD',
    createdAt: now,
    modifiedAt: now,
    syncStatus: 'OutOfSync',
    syncMessage: 'not synced yet',
    syncStartedAt: null,
    syncFinishedAt: null,
    synced: [],
  };
  return sync(ctx, a, (x) => ctx.store.createApplication(x));
}

/** Sync again (a new commit, changed files); the executables it no longer holds are removed. */
export async function refreshApplication(ctx: ControlContext, p: Principal, name: string): Promise<ApplicationRecord> {
  authorizeAdmin(p, 'catalog.write');
  return sync(ctx, await own(ctx, p, name), () => Promise.resolve());
}

/** Point the application elsewhere (repository, path, revision) and sync. */
export async function updateApplication(
  ctx: ControlContext,
  p: Principal,
  name: string,
  input: Omit<ApplicationInput, 'applicationName'>,
): Promise<ApplicationRecord> {
  authorizeAdmin(p, 'catalog.write');
  const a = await own(ctx, p, name);
  return sync(ctx, { ...a, repositoryUrl: input.repositoryUrl, path: input.path, revision: input.revision ?? 'HEAD' }, (x) => ctx.store.updateApplication(x));
}

export async function getApplication(ctx: ControlContext, p: Principal, name: string): Promise<ApplicationRecord> {
  authorizeAdmin(p, 'catalog.read');
  return own(ctx, p, name);
}

export async function listApplications(ctx: ControlContext, p: Principal): Promise<ApplicationRecord[]> {
  authorizeAdmin(p, 'catalog.read');
  return ctx.store.listApplications(p.accountId);
}

/** The application and the executables it provided go; configurations made from them stay (rendering them says the executable is gone). */
export async function deleteApplication(ctx: ControlContext, p: Principal, name: string): Promise<void> {
  authorizeAdmin(p, 'catalog.write');
  await own(ctx, p, name);
  await ctx.store.deleteApplicationExecutables(p.accountId, name);
  await ctx.store.deleteApplication(p.accountId, name);
}
