import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { collectSources, type SourceFile } from './scan.js';
import { writeTarGz } from './tar.js';

/** The tarball's `config.json`, as the Python SDK's `Config` (name, installs, envs, runs), plus the entry to import. */
export interface CodeConfig {
  readonly name: string;
  readonly runtime: 'node';
  /** The entry module, relative to the tarball's root. */
  readonly entry: string;
  /** npm packages installed on the worker before the entry is imported (none: no `npm install`). */
  readonly npm: readonly string[];
  readonly envs: readonly (readonly [string, string])[];
  /** Shell commands run on the worker, in order, before the entry is imported. */
  readonly runs: readonly string[];
}

export interface PackedApp {
  readonly fileHash: string;
  readonly tarball: Buffer;
  readonly files: readonly string[];
}

/**
 * `file_hash`: a sha256 over the config's JSON and then each source, in path order, as path, length
 * and bytes (the Python SDK's `compute_deployment_hash` is over its config and sources too, not over
 * the tarball's bytes). An unchanged app has the same hash, so the PUT answers `exists`.
 */
export function codeHash(config: CodeConfig, sources: readonly SourceFile[]): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(config));
  const sorted = [...sources].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const s of sorted) h.update(`\0${s.path}\0${s.data.length}\0`).update(s.data);
  return h.digest('hex');
}

/** The entry file and its local imports, with `config.json`, as a tarball, and the version's hash. */
export function packApp(entryFile: string, c: Omit<CodeConfig, 'entry' | 'runtime'>): PackedApp {
  const sources = collectSources(entryFile);
  const config: CodeConfig = { name: c.name, runtime: 'node', entry: basename(entryFile), npm: c.npm, envs: c.envs, runs: c.runs };
  const tarball = writeTarGz([{ path: 'config.json', data: Buffer.from(JSON.stringify(config, null, 2)) }, ...sources]);
  return { fileHash: codeHash(config, sources), tarball, files: sources.map((s) => s.path) };
}
