import { execFile } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GantryError } from '../../domain/errors.js';
import { MAX_TEMPLATE_BYTES, MAX_TEMPLATE_FILES, type TemplateFile } from './template-files.js';

/**
 * Template repositories Gantry reads: a local folder or a local git repository, named by an absolute
 * path or a `file://` URL. Git runs with an argv array, never a shell, and only reads objects
 * (`ls-tree`, `show`): nothing reaches the network.
 */
function unreadable(message: string, field: string): GantryError {
  return new GantryError('REPOSITORY_UNREADABLE', message, { field });
}

export function localRepositoryPath(url: string): string {
  let path: string;
  if (url.startsWith('file://')) {
    try {
      path = fileURLToPath(url);
    } catch {
      throw unreadable(`repositoryUrl '${url}' is not a file:// URL of a local path.`, 'repositoryUrl');
    }
  } else if (isAbsolute(url)) path = url;
  else
    throw unreadable(
      `repositoryUrl '${url}' must be a local folder or git repository: an absolute path or a file:// URL (Gantry fetches nothing over the network).`,
      'repositoryUrl',
    );
  return normalize(path);
}

/** The folder inside the repository: relative, without `..`. */
function subPath(path: string): string {
  const p = normalize(path.trim() === '' ? '.' : path).replace(/^\.\/?/, '');
  if (isAbsolute(p) || p.split(/[\\/]/).includes('..')) throw unreadable(`path '${path}' must be a folder inside the repository.`, 'path');
  return p.replace(/\/+$/, '');
}

const isTemplate = (f: string): boolean => /\.ya?ml$/i.test(f);

class GitTimeout extends Error {}

/** One git call, bounded (gitTimeoutMs): a repository on a hung disk must not hold a request forever. */
function git(cwd: string, args: string[], timeoutMs: number): Promise<string> {
  const late = `git did not answer within ${timeoutMs / 1000}s`;
  return new Promise((resolve, reject) => {
    // A git stuck in the kernel (a hung disk) outlives even its SIGKILL: the call is given up a second later all the same.
    const giveUp = setTimeout(() => reject(new GitTimeout(late)), timeoutMs + 1_000);
    const opts = { cwd, maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs, killSignal: 'SIGKILL' as const };
    execFile('git', ['-c', 'core.quotepath=off', ...args], opts, (err, stdout, stderr) => {
      clearTimeout(giveUp);
      if (err === null) resolve(stdout);
      else reject(err.killed ? new GitTimeout(late) : new Error(stderr.trim() || err.message));
    });
  });
}

async function isGitRepository(dir: string, timeoutMs: number): Promise<boolean> {
  try {
    return (await git(dir, ['rev-parse', '--is-inside-work-tree', '--git-dir'], timeoutMs)).trim() !== '';
  } catch (err) {
    // A git that did not answer says nothing of the folder: it is not read as a plain one (its reads have no bound).
    if (err instanceof GitTimeout) throw err;
    return false;
  }
}

async function fromGit(dir: string, path: string, revision: string, timeoutMs: number): Promise<{ files: TemplateFile[]; commit: string }> {
  if (!/^[\w./@^~{}-]{1,200}$/.test(revision) || revision.startsWith('-')) throw unreadable(`revision '${revision}' is not a git revision.`, 'revision');
  let commit: string;
  try {
    commit = (await git(dir, ['rev-parse', '--verify', '--end-of-options', `${revision}^{commit}`], timeoutMs)).trim();
  } catch {
    throw unreadable(`The repository has no revision '${revision}'.`, 'revision');
  }
  // --full-name: `show COMMIT:NAME` wants paths from the repository's root, whatever folder `dir` is.
  const listed = (await git(dir, ['ls-tree', '-r', '--full-name', '--name-only', commit, '--', path === '' ? '.' : path], timeoutMs))
    .split('\n')
    .filter((f) => f !== '');
  const names = listed.filter(isTemplate).sort();
  if (names.length === 0) throw unreadable(`The repository holds no YAML files under '${path === '' ? '.' : path}' at revision '${revision}'.`, 'path');
  if (names.length > MAX_TEMPLATE_FILES) throw unreadable(`path '${path}' holds more than ${MAX_TEMPLATE_FILES} YAML files.`, 'path');
  const files: TemplateFile[] = [];
  for (const name of names) files.push({ name, content: await git(dir, ['show', `${commit}:${name}`], timeoutMs) });
  return { files, commit };
}

async function walk(root: string, dir: string, out: string[]): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const full = join(dir, e.name);
    if (e.isDirectory()) await walk(root, full, out);
    else if (e.isFile() && isTemplate(e.name)) out.push(relative(root, full).split(sep).join('/'));
    if (out.length > MAX_TEMPLATE_FILES) throw unreadable(`The folder holds more than ${MAX_TEMPLATE_FILES} YAML files.`, 'path');
  }
}

/**
 * The YAML files under `path` of the repository at `revision` (a plain folder: only HEAD, i.e. as it
 * is on disk). Whatever the disk or git says goes wrong (permissions, loops, a huge blob) is the
 * repository's problem, told to the caller as REPOSITORY_UNREADABLE, never a fault of the server.
 */
export async function readRepository(
  url: string,
  path: string,
  revision: string,
  gitTimeoutMs: number,
): Promise<{ files: TemplateFile[]; commit: string | null }> {
  try {
    return await read(url, path, revision, gitTimeoutMs);
  } catch (err) {
    if (err instanceof GantryError) throw err;
    throw unreadable(`'${url}' could not be read: ${(err as Error).message}`.slice(0, 500), 'repositoryUrl');
  }
}

async function read(url: string, path: string, revision: string, gitTimeoutMs: number): Promise<{ files: TemplateFile[]; commit: string | null }> {
  const dir = localRepositoryPath(url);
  const sub = subPath(path);
  const st = await stat(dir).catch(() => null);
  if (st === null || !st.isDirectory()) throw unreadable(`repositoryUrl '${url}' is not a folder on the Gantry server.`, 'repositoryUrl');
  if (await isGitRepository(dir, gitTimeoutMs)) return fromGit(dir, sub, revision, gitTimeoutMs);
  if (revision !== 'HEAD') throw unreadable(`'${url}' is a plain folder, not a git repository: only revision HEAD can be read.`, 'revision');
  const base = join(dir, sub);
  const bst = await stat(base).catch(() => null);
  if (bst === null || !bst.isDirectory()) throw unreadable(`path '${path}' is not a folder in '${url}'.`, 'path');
  const names: string[] = [];
  await walk(dir, base, names);
  const files: TemplateFile[] = [];
  for (const name of names.sort()) {
    const full = join(dir, name);
    if ((await stat(full)).size > MAX_TEMPLATE_BYTES) throw unreadable(`${name} is larger than ${MAX_TEMPLATE_BYTES} bytes.`, 'path');
    files.push({ name, content: await readFile(full, 'utf8') });
  }
  return { files, commit: null };
}
