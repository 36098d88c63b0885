import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

/** Architecture rules as tests, so ARCHITECTURE.md and the folders cannot drift apart. */
const root = fileURLToPath(new URL('../../../', import.meta.url));
const src = join(root, 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}
const sources = files(src).map((p) => ({ path: relative(root, p), text: readFileSync(p, 'utf8') }));
const imports = (text: string): string[] => [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+'([^']+)'/g)].map((m) => m[1] as string);
const resolve = (from: string, spec: string): string => (spec.startsWith('.') ? relative(root, join(root, from, '..', spec)) : spec);

interface Rule {
  readonly folder: string;
  readonly allows: readonly string[];
}

/** The module map of ARCHITECTURE.md: each row's folder and its "may import" entries. */
function moduleMap(): Rule[] {
  const doc = readFileSync(join(root, 'ARCHITECTURE.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Module map'), doc.indexOf('\n## ', doc.indexOf('## Module map') + 5));
  const rows: Rule[] = [];
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const folder = /^`(src\/[^`]*\/)`$/.exec(cells[1] ?? '')?.[1];
    if (folder === undefined) continue;
    const last = cells[cells.length - 2] ?? '';
    rows.push({ folder, allows: [...last.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string) });
  }
  assert.ok(rows.length > 20, `read ${rows.length} rows from the module map`);
  return rows;
}

/** `x/` a folder and its subfolders, `x/*` only the files directly in x, `x.ts` one file. */
function allowed(entry: string, target: string): boolean {
  if (entry.endsWith('/*')) {
    const dir = entry.slice(0, -1);
    return target.startsWith(dir) && !target.slice(dir.length).includes('/');
  }
  if (entry.endsWith('/')) return target.startsWith(entry);
  return target === entry;
}

/** Files allowed over 400 lines, each with its reason. */
const LONG_FILES: Readonly<Record<string, string>> = {};

describe('architecture', () => {
  it('keeps the domain pure: no node builtins, nothing outside src/domain', () => {
    for (const f of sources.filter((s) => s.path.startsWith('src/domain/'))) {
      for (const spec of imports(f.text)) {
        assert.ok(spec.startsWith('.'), `${f.path} imports package ${spec}`);
        assert.ok(resolve(f.path, spec).startsWith('src/domain/'), `${f.path} imports ${spec}`);
      }
    }
  });

  it('keeps dialects away from the store adapters', () => {
    for (const f of sources.filter((s) => s.path.startsWith('src/api/'))) {
      for (const spec of imports(f.text)) {
        const target = resolve(f.path, spec);
        assert.ok(!target.startsWith('src/store/kysely') && !target.startsWith('src/store/dialects'), `${f.path} imports ${spec}`);
        assert.ok(!target.startsWith('src/runtime/process'), `${f.path} imports ${spec}`);
      }
    }
  });

  it('lets only src/main pick concrete adapters', () => {
    const adapters = ['src/store/kysely/kysely-store', 'src/store/dialects/sqlite', 'src/store/dialects/postgres', 'src/runtime/process/process-runtime'];
    for (const f of sources.filter((s) => !s.path.startsWith('src/main/') && !s.path.startsWith('src/store/') && !s.path.startsWith('src/runtime/'))) {
      for (const spec of imports(f.text)) {
        const target = resolve(f.path, spec).replace(/\.js$/, '');
        assert.ok(!adapters.includes(target), `${f.path} imports the adapter ${spec}`);
      }
    }
  });

  it('reads process.env only in src/config (and the CLI entry that hands it over)', () => {
    // The worker helper runs inside workloads, where the environment the engine set is its configuration;
    // the deployments SDK's one env file reads the client's GANTRY_URL / GANTRY_API_KEY and, on a worker, the engine's.
    const readers = new Set(['src/sdk/worker.ts', 'src/sdk/code/code-env.ts']);
    for (const f of sources.filter((s) => !s.path.startsWith('src/config/') && !readers.has(s.path))) {
      assert.ok(!/process\.env/.test(f.text), `${f.path} reads process.env`);
    }
  });

  it('keeps source files under 400 lines unless listed with a reason', () => {
    for (const f of sources) {
      const lines = f.text.split('\n').length;
      if (lines > 400) assert.ok(f.path in LONG_FILES, `${f.path} has ${lines} lines`);
    }
  });

  it('keeps every import within the "may import" column of the module map (type imports included)', () => {
    const rules = moduleMap();
    const ruleFor = (file: string): Rule | undefined => rules.filter((r) => file.startsWith(r.folder)).sort((x, y) => y.folder.length - x.folder.length)[0];
    const broken: string[] = [];
    for (const f of sources) {
      const rule = ruleFor(f.path);
      assert.ok(rule, `${f.path} is in no row of the module map`);
      for (const spec of imports(f.text).filter((s) => s.startsWith('.'))) {
        const target = resolve(f.path, spec).replace(/\.js$/, '.ts');
        if (target.startsWith(rule.folder) || rule.allows.some((a) => allowed(a, target))) continue;
        broken.push(`${f.path} imports ${target} (row ${rule.folder} allows ${rule.allows.join(', ') || 'nothing else'})`);
      }
    }
    assert.deepEqual(broken, []);
  });

  it('gives every src folder a row in the module map', () => {
    const rows = new Set(moduleMap().map((r) => r.folder));
    const folders = new Set(sources.map((s) => s.path.split('/').slice(0, -1).join('/') + '/'));
    for (const folder of folders) assert.ok(rows.has(folder), `no module-map row for ${folder}`);
  });

  it('names every src folder in ARCHITECTURE.md', () => {
    const doc = readFileSync(join(root, 'ARCHITECTURE.md'), 'utf8');
    const folders = new Set(sources.map((s) => s.path.split('/').slice(0, -1).join('/')));
    for (const folder of folders) assert.ok(doc.includes(`${folder}/`), `ARCHITECTURE.md does not mention ${folder}/`);
  });
});
