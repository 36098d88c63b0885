import { GantryConnectionError } from '../../src/sdk/errors.js';
import { INSTANCE_COLUMNS } from '../../src/cli/output.js';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { SEARCH_FIELDS } from '../../src/api/dialects/vast/query-language.js';
import { VAST_OFFER_FIELDS } from '../../src/api/dialects/vast/offers.js';
import { MAX_ONSTART_CHARS } from '../../src/domain/instance/create.js';
import { parseGpuDeclaration } from '../../src/domain/machine/gpus.js';
import { GantryApiError } from '../../src/sdk/client.js';
import { checkedOrder, checkedSearchQuery } from '../../src/cli/search-args.js';
import { cliErrorText, ONSTART_LIMIT_CHARS, readOnstartFile } from '../../src/cli/cli-errors.js';
import { describeVerbs, packageVersion, undescribed } from '../../src/cli/help.js';
import { gantry } from '../helpers/cli.js';
import { noOffersHint } from '../../src/cli/instance-commands.js';

/** Argument checks, help and error messages of the `gantry` CLI: pure functions in-process, a few real runs that need no server. */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
let dir = '';
// No server, key or URL from the machine running the tests.
const ENV = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, GANTRY_DATA_DIR: dir, GANTRY_URL: 'http://127.0.0.1:9' });

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gantry-cli-args-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Run `fn` with these environment variables set (undefined: unset), then restore them. */
function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const set = (v: Record<string, string | undefined>): void => {
    for (const [k, x] of Object.entries(v))
      if (x === undefined) delete process.env[k];
      else process.env[k] = x;
  };
  set(vars);
  try {
    return fn();
  } finally {
    set(saved);
  }
}

describe('search offers: fields and order keys', () => {
  it('the CLI knows exactly the fields the API filters on', () => {
    assert.deepEqual([...SEARCH_FIELDS].sort(), Object.keys(VAST_OFFER_FIELDS).sort());
  });
  it('refuses an unknown field, suggesting the near one and listing the valid ones', () => {
    assert.throws(() => checkedSearchQuery('num_gpu>=1'), /Unknown field 'num_gpu'\. Did you mean 'num_gpus'\? Valid fields: id, .*num_gpus/);
  });
  it("translates vastai's aliases, as vastai does: dph<1 is dph_total<1", () => {
    assert.deepEqual(checkedSearchQuery('dph<1 num_gpus>=1'), { dph_total: { lt: 1 }, num_gpus: { gte: 1 } });
    assert.deepEqual(checkedOrder('dph-,score'), [
      ['dph_total', 'desc'],
      ['score', 'asc'],
    ]);
  });
  it('refuses an unknown order key, and a vastai field Gantry does not record', () => {
    assert.throws(() => checkedOrder('price'), /Unknown order key 'price'\. .*Valid order keys: .*dph_total/);
    assert.throws(() => checkedSearchQuery('pcie_bw>10'), /does not record the offer field 'pcie_bw'/);
    assert.throws(() => checkedSearchQuery('num_gpu=any'), /Unknown field 'num_gpu'/);
  });
});

describe('CLI errors', () => {
  it('onstart: the CLI bound is the API one; a missing file and a large one are plain errors', async () => {
    assert.equal(ONSTART_LIMIT_CHARS, MAX_ONSTART_CHARS);
    assert.throws(() => readOnstartFile(join(dir, 'nope.sh')), /^Error: --onstart: cannot read '.*nope\.sh' \(no such file\)\.$/);
    const big = join(dir, 'big.sh');
    await writeFile(big, 'x'.repeat(2 * 1024 * 1024)); // over the server's body limit too
    assert.throws(() => readOnstartFile(big), /is 2097152 bytes; onstart is limited to 4048 characters\. Put longer scripts on the disk/);
    await writeFile(big, 'y'.repeat(MAX_ONSTART_CHARS + 1));
    assert.throws(() => readOnstartFile(big), /is 4049 characters; onstart is limited to 4048/);
    await writeFile(big, 'echo hi\n');
    assert.equal(readOnstartFile(big), 'echo hi\n');
  });
  it('no server: the message names the URL', () => {
    const err = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    assert.equal(
      cliErrorText(err, { url: 'http://127.0.0.1:7999' }),
      'no Gantry server answers at http://127.0.0.1:7999 (ECONNREFUSED); is `gantry up` running? One started with --data-dir: GANTRY_DATA_DIR=<dir>; another server: --url or GANTRY_URL.',
    );
    // As the SDK's client raises it: fetch's error kept as its cause.
    const sdk = new GantryConnectionError('http://127.0.0.1:7999/api/v0/instances/', err);
    assert.match(
      cliErrorText(sdk, { url: 'http://127.0.0.1:7999' }),
      /^no Gantry server answers at http:\/\/127\.0\.0\.1:7999 \(ECONNREFUSED\); is `gantry up` running\?/,
    );
  });
  it('no key: says how to give one, not which HTTP header', () => {
    const err = new GantryApiError(401, { success: false, error: 'auth_error', msg: 'Send "Authorization: Bearer <key>".' }, 'HTTP 401');
    const text = withEnv({ GANTRY_API_KEY: undefined, GANTRY_DATA_DIR: dir }, () => cliErrorText(err, {}));
    assert.match(text, /^no API key: set GANTRY_API_KEY or pass --api-key <key>\. `gantry up` keeps its admin key in its data dir \(none at .*admin\.key/);
    assert.doesNotMatch(text, /Authorization/);
    const given = withEnv({ GANTRY_API_KEY: 'k', GANTRY_DATA_DIR: dir }, () => cliErrorText(err, {}));
    assert.match(given, /\(the key came from GANTRY_API_KEY\)$/);
  });
  it('a refused permission names the command, so the resource meant', () => {
    const err = new GantryApiError(403, { error: 'missing_permissions', msg: 'This API key lacks the misc permission.' }, 'HTTP 403');
    assert.equal(cliErrorText(err, {}, 'search offers'), 'gantry search offers: This API key lacks the misc permission.');
  });
  it("an error quoting someone else's name reaches the terminal without its escapes; its lines stay", () => {
    const err = new GantryApiError(409, { error: 'conflict', msg: "Endpoint 'a' is the route target of x\u001b[2J\u202ey.\nStop them first." }, 'HTTP 409');
    assert.equal(cliErrorText(err, {}), "Endpoint 'a' is the route target of x?[2J?y.\nStop them first.");
  });
  it('--gpus: a count in words is refused with the expected format', () => {
    assert.throws(() => parseGpuDeclaration('two 4090s'), /--gpus 'two 4090s' is not like "2x RTX 4090:24GB": \[COUNTx \]MODEL\[:MEMORY\]/);
    assert.throws(() => parseGpuDeclaration('2 4090'), /is not like/);
    assert.equal(parseGpuDeclaration('2x RTX 4090:24GB').count, 2);
    assert.equal(parseGpuDeclaration('4090').name, '4090');
  });
});

describe('CLI help', () => {
  /** The commands as main.ts registers them: every register* export of src/cli (up and instances first, as in main.ts). */
  async function registered(): Promise<Command> {
    const cliDir = join(ROOT, 'dist', 'src', 'cli');
    const program = new Command('gantry');
    const registers: [string, (p: Command) => void][] = [];
    for (const f of (await readdir(cliDir)).filter((n) => n.endsWith('.js') && n !== 'main.js')) {
      const m = (await import(join(cliDir, f))) as Record<string, unknown>;
      // registerDown is called by registerUp.
      for (const [k, v] of Object.entries(m))
        if (k.startsWith('register') && k !== 'registerDown' && typeof v === 'function') registers.push([k, v as (p: Command) => void]);
    }
    const rank = (k: string): number => (k === 'registerUp' ? 0 : k === 'registerInstanceCommands' ? 1 : 2);
    registers.sort(([a], [b]) => rank(a) - rank(b));
    for (const [, register] of registers) register(program);
    describeVerbs(program);
    return program;
  }

  it('every command has a description line; search offers --help lists fields and operators', async () => {
    const program = await registered();
    assert.ok(program.commands.length > 20);
    assert.deepEqual(undescribed(program), []);
    const offers = program.commands.find((c) => c.name() === 'search')?.commands.find((c) => c.name() === 'offers');
    let help = '';
    offers?.configureOutput({ writeOut: (t) => void (help += t) }).outputHelp();
    assert.match(help, /Operators: = == != > >= < <= in notin/);
    assert.match(help, / num_gpus /);
    assert.match(help, /dph=dph_total/);
    assert.match(help, /the API itself ignores them/);
  });
  it('the verbs check their arguments before any request: search fields, order keys, offer ids', async () => {
    const program = await registered();
    const run = (...args: string[]): Promise<unknown> => program.parseAsync(['node', 'gantry', ...args]);
    await assert.rejects(run('search', 'offers', 'num_gpu>=1'), /^Error: Unknown field 'num_gpu'\. Did you mean 'num_gpus'\?/);
    await assert.rejects(run('search', 'offers', 'dph<1', '-o', 'price'), /^Error: Unknown order key 'price'/);
    await assert.rejects(run('create', 'instance', 'abc'), /^Error: 'abc' is not an offer id\.$/);
    await assert.rejects(run('create', 'instance', '1', '--onstart', join(dir, 'missing.sh')), /^Error: --onstart: cannot read .*\(no such file\)/);
  });
  it('--version prints the version of package.json', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(packageVersion(), pkg.version);
    assert.equal((await gantry(['--version'], ENV())).stdout.trim(), pkg.version);
  });
});

describe('an empty search', () => {
  it('says no offer matches and what to try, not a bare header', () => {
    const gpuless = noOffersHint('num_gpus>=1 rentable=true', true);
    assert.match(gpuless, /^No offers match\./);
    assert.match(gpuless, /num_gpus>=0/);
    assert.match(gpuless, /-n drops them/);
    assert.doesNotMatch(noOffersHint('gpu_name=H100', false), /num_gpus>=0|-n drops/);
  });
});

describe('gantry show instances: the rate column', () => {
  const row = (gantry_status: string): Record<string, unknown> => ({
    id: 1,
    actual_status: gantry_status,
    gantry_status,
    dph_total: 0.1001,
    storage_total_cost: 0.0001,
  });
  const rate = (r: Record<string, unknown>): unknown => (INSTANCE_COLUMNS.find(([h]) => h === '$/hr')?.[1] as (r: Record<string, unknown>) => unknown)(r);
  it('shows the disk alone at rest (stopped, exited, failed, host offline), the whole rate while it runs', () => {
    for (const s of ['stopped', 'exited', 'failed', 'unknown']) assert.match(String(rate(row(s))), /\(disk\)$/, s);
    for (const s of ['running', 'stopping', 'rebooting']) assert.doesNotMatch(String(rate(row(s))), /disk/, s);
  });
});
