import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import ts from 'typescript';

/**
 * `gantry/sdk` is typed for its users: a TypeScript program beside a `node_modules/gantry` (linked
 * to this checkout, as `npm install` would place it) compiled with strict settings and NodeNext
 * resolution finds the SDK's declarations through the package's `exports`, so a correct program
 * compiles and a wrong one is refused where it is wrong (not TS7016, "no declaration file").
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

const PROGRAM = `import { CallTimeoutError, Deployment, GantryApiError, GantryClient, type ReadyResult } from 'gantry/sdk';

const app = new Deployment({ name: 'typed', ttl: 600, callTimeoutMs: 5_000, entry: import.meta.url });
app.image('node:20', 8).install('left-pad').require('gpu_name=RTX_4090');
app.configureAutoscaling({ maxWorkers: 2 });
const square = app.remote(async function square(x: number): Promise<number> {
  return x * x;
});

export async function main(): Promise<number> {
  const ready: ReadyResult = await ready_();
  const n: number = await square(ready.deploymentId);
  try {
    await new GantryClient({ url: 'http://127.0.0.1:7070', apiKey: null }).listInstances();
  } catch (e) {
    if (e instanceof GantryApiError) return e.status + (e.code === null ? 0 : 1);
    if (e instanceof CallTimeoutError) return e.timeoutMs;
  }
  return n;
}
const ready_ = (): Promise<ReadyResult> => app.ensureReady();
`;

/** The same program with two mistakes: an option misspelled, and a remote function called with a string for its number. */
const WRONG = PROGRAM.replace("{ name: 'typed', ttl: 600,", "{ name: 'typed', tll: 600,").replace('square(ready.deploymentId)', "square('seven')");

describe("gantry/sdk's type declarations", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gantry-sdk-types-'));
    await mkdir(join(dir, 'node_modules'));
    await symlink(ROOT, join(dir, 'node_modules', 'gantry'), 'dir');
    await writeFile(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  // The second compile reuses the first's unchanged files (Node's types, the SDK's declarations): half the time.
  let previous: ts.Program | undefined;
  /** The diagnostics of a strict NodeNext compile of `source`, as `TS<code> line <n>: <text>`. */
  const compile = async (source: string): Promise<string[]> => {
    const file = join(dir, 'app.ts');
    await writeFile(file, source);
    const options: ts.CompilerOptions = {
      strict: true,
      noUncheckedIndexedAccess: true,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      // Node's globals come from @types/node; without DOM's (the default lib's) the compile takes half the time.
      lib: ['lib.es2023.d.ts'],
      noEmit: true,
      // As a user with @types/node installed: the SDK's declarations name Node's types.
      types: ['node'],
      typeRoots: [join(ROOT, 'node_modules', '@types')],
      skipLibCheck: true,
    };
    const program = ts.createProgram({ rootNames: [file], options, ...(previous === undefined ? {} : { oldProgram: previous }) });
    previous = program;
    return ts.getPreEmitDiagnostics(program).map((d) => {
      const line = d.file !== undefined && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0;
      return `TS${d.code} line ${line}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
    });
  };

  it('resolve through the package exports and compile a correct strict program', async () => {
    assert.deepEqual(await compile(PROGRAM), []);
  });

  it('report a wrong program where it is wrong', async () => {
    const errors = await compile(WRONG);
    assert.equal(errors.length, 2, errors.join('\n'));
    assert.match(errors[0] ?? '', /^TS2353 line 3: .*'tll' does not exist in type 'DeploymentOptions'/);
    // app.remote keeps the function's signature.
    assert.match(errors[1] ?? '', /^TS2345 line 12: Argument of type 'string' is not assignable to parameter of type 'number'/);
  });
});
