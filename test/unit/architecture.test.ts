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
    // The worker helper runs inside workloads, where the environment the engine set is its configuration.
    for (const f of sources.filter((s) => !s.path.startsWith('src/config/') && s.path !== 'src/sdk/worker.ts')) {
      assert.ok(!/process\.env/.test(f.text), `${f.path} reads process.env`);
    }
  });

  it('keeps source files under 400 lines unless listed with a reason', () => {
    for (const f of sources) {
      const lines = f.text.split('\n').length;
      if (lines > 400) assert.ok(f.path in LONG_FILES, `${f.path} has ${lines} lines`);
    }
  });

  it('names every src folder in ARCHITECTURE.md', () => {
    const doc = readFileSync(join(root, 'ARCHITECTURE.md'), 'utf8');
    const folders = new Set(sources.map((s) => s.path.split('/').slice(0, -1).join('/')));
    for (const folder of folders) assert.ok(doc.includes(`${folder}/`), `ARCHITECTURE.md does not mention ${folder}/`);
  });
});
