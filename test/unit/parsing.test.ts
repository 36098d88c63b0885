import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseOrder, parseSearchQuery } from '../../src/api/dialects/vast/query-language.js';
import { parseDuration, loadConfig } from '../../src/config/load.js';
import { parseEnv, refuseReservedNames, shellSplit } from '../../src/domain/instance/env.js';
import { checkImage, engineImage, validateCreate } from '../../src/domain/instance/create.js';
import { checkMountPath } from '../../src/domain/volume/volume.js';
import { createRequest } from '../helpers/requests.js';
import { parseGpuDeclaration, parseNvidiaSmi } from '../../src/domain/machine/gpus.js';

describe('env parsing', () => {
  it('reads Docker flag strings', () => {
    const e = parseEnv(`-e A=1 -e "B=two words" --env C='x y' -p 8080:8080 -p 9000/udp -e EMPTY=`);
    assert.deepEqual(e.env, { A: '1', B: 'two words', C: 'x y', EMPTY: '' });
    assert.deepEqual(e.ports, [
      { containerPort: 8080, proto: 'tcp' },
      { containerPort: 9000, proto: 'udp' },
    ]);
  });
  it('reads objects, including the CLI habit of port flags as keys', () => {
    const e = parseEnv({ A: 'x', N: 3, '-p 8080:8080': '1' });
    assert.deepEqual(e.env, { A: 'x', N: '3' });
    assert.deepEqual(e.ports, [{ containerPort: 8080, proto: 'tcp' }]);
  });
  it('rejects what does not parse, saying what is wrong', () => {
    assert.throws(() => parseEnv('-e'), /needs a value/);
    assert.throws(() => parseEnv('-x 1'), /Unexpected '-x'/);
    assert.throws(() => parseEnv('-p 99999:1'), /Port mapping/);
    assert.throws(() => parseEnv('-e "A=1'), /Unclosed/);
    assert.throws(() => parseEnv({ 'bad key': 'x' }), /not a valid environment variable name/);
    assert.throws(() => parseEnv([1]), /env must be/);
    assert.throws(() => parseEnv({ A: { nested: 1 } }), /must be a string/);
  });
  it('keeps variables named after members of Object.prototype, in every form, and leaves the prototype alone', () => {
    // JSON.parse makes `__proto__` an own key, as a request body does.
    const forms: unknown[] = [
      '-e __proto__=p -e constructor=c',
      JSON.parse('{"__proto__": "p", "constructor": "c"}'),
      { '-e __proto__=p -e constructor=c': '1' },
    ];
    for (const form of forms) {
      const { env } = parseEnv(form);
      assert.deepEqual(Object.entries(env), [
        ['__proto__', 'p'],
        ['constructor', 'c'],
      ]);
      assert.equal(Object.getPrototypeOf(env), Object.prototype);
      // Copies by spread and through JSON (the store) keep it.
      assert.deepEqual(Object.entries({ ...env }), Object.entries(env));
      assert.deepEqual(Object.entries(JSON.parse(JSON.stringify(env)) as object), Object.entries(env));
    }
  });
  it("refuses reserved names in an instance's env and a worker's, less what the official SDKs send to workers", () => {
    for (const name of ['PATH', 'ld_preload', 'GANTRY_URL', 'GANTRY_MODEL_ID', 'MASTER_TOKEN', 'WORKER_PORT', 'CONTAINER_ID', 'VAST_TCP_PORT_8000']) {
      for (const target of ['instance', 'worker'] as const)
        assert.throws(() => refuseReservedNames({ [name]: 'x' }, target), /is reserved/, `${name} (${target})`);
    }
    // Vast's Python SDK sends REPORT_ADDR with every code deployment; Gantry's Node SDK sends GANTRY_CODE_RUNTIME.
    for (const name of ['REPORT_ADDR', 'GANTRY_CODE_RUNTIME']) {
      assert.throws(() => refuseReservedNames({ [name]: 'x' }, 'instance'), /is reserved/, name);
      refuseReservedNames({ [name]: 'x' }, 'worker');
    }
    refuseReservedNames({ VAST_API_URL: 'x', USE_SYSTEM_PYTHON: 'true', UV_SYSTEM_PYTHON: '1', UV_BREAK_SYSTEM_PACKAGES: '1', ENV_PATH: '/v' }, 'worker');
  });
  it('splits like a shell', () => {
    assert.deepEqual(shellSplit(`a "b c" 'd e' f\\ g`), ['a', 'b c', 'd e', 'f g']);
  });
});

describe('create validation', () => {
  const base = createRequest();
  it('defaults runtype to ssh, or args when a main command is given', () => {
    assert.equal(validateCreate(base, 100).runtype, 'ssh');
    assert.equal(validateCreate({ ...base, args: ['sleep', '1'] }, 100).runtype, 'args');
  });
  it('bounds disk, onstart and price', () => {
    assert.throws(() => validateCreate({ ...base, diskGb: -1 }, 100), /positive/);
    assert.throws(() => validateCreate({ ...base, diskGb: 1000 }, 100), /more than the machine/);
    assert.throws(() => validateCreate({ ...base, onstart: 'x'.repeat(4049) }, 100), /limit is 4048/);
    assert.doesNotThrow(() => validateCreate({ ...base, onstart: 'x'.repeat(4048) }, 100));
    assert.throws(() => validateCreate({ ...base, bidPrice: 500 }, 100), /price/);
    assert.throws(() => validateCreate({ ...base, runtype: 'vnc' }, 100), /runtype/);
  });
  it('takes image references as engines do, and refuses names no engine can run with a 400 at create', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    for (const ok of [
      'ubuntu',
      'local/shell',
      'vastai/base-image:cuda-12.1.1-auto',
      'nvidia/cuda:12.0.0-devel-ubuntu22.04',
      'localhost/gantry-test/busybox:1',
      'registry.example.com:5000/team/app_v2:Latest',
      'MyRegistry/app:1',
      `ubuntu@${digest}`,
      `ghcr.io/a/b:1@${digest}`,
      'a__b/c--d.e:1',
      // Vast's templates' automatic tag (the engine is given `latest`).
      'vastai/base-image:@vastai-automatic-tag',
    ])
      assert.doesNotThrow(() => validateCreate({ ...base, image: ok }, 100), ok);
    for (const bad of [
      'UPPER/Case:1',
      'a b',
      'img:1 ',
      'img:1\n',
      'foo@sha256:zzz',
      '-rf',
      'foo:bar:baz',
      'img:1;rm -rf /',
      'a'.repeat(300),
      'x/',
      '/x',
      'x//y',
      'x:',
    ])
      assert.throws(() => validateCreate({ ...base, image: bad }, 100), { code: 'INVALID_ARGUMENT', message: /image reference|1 to 512/ }, JSON.stringify(bad));
    assert.throws(() => checkImage('Bad Image'), /not an image reference/);
    assert.throws(() => checkImage('Bad/Image:@vastai-automatic-tag'), /not an image reference/);
    assert.equal(engineImage('pytorch/pytorch:@vastai-automatic-tag'), 'pytorch/pytorch:latest');
    assert.equal(engineImage('pytorch/pytorch:2.1'), 'pytorch/pytorch:2.1');
  });
});

describe('volume mount paths', () => {
  it('normalises a path and refuses the places the runtime mounts itself', () => {
    assert.equal(checkMountPath('/data//x/'), '/data/x');
    assert.equal(checkMountPath('workspace'), 'workspace');
    assert.equal(checkMountPath('/workspace/data'), '/workspace/data');
    assert.equal(checkMountPath('/etc/app'), '/etc/app');
    for (const bad of ['/workspace', '/workspace/', '/.gantry', '/.gantry/x', '/proc', '/proc/x', '/sys', '/dev', '/dev/shm', '/', '../x'])
      assert.throws(() => checkMountPath(bad), { code: 'INVALID_ARGUMENT', message: /mount path/ }, bad);
  });
});

describe('GPU inventory', () => {
  it('parses declarations', () => {
    assert.deepEqual(parseGpuDeclaration('2x RTX 4090:24GB'), {
      name: 'RTX 4090',
      count: 2,
      memoryMb: 24000,
      driverVersion: null,
      cudaVersion: null,
      computeCap: null,
      declared: true,
    });
    assert.equal(parseGpuDeclaration('A100:80GB').count, 1);
    assert.equal(parseGpuDeclaration('4 x H100:81559MB').memoryMb, 81559);
    assert.throws(() => parseGpuDeclaration('0x A100'), /not like/);
    assert.throws(() => parseGpuDeclaration(':24GB'), /not like/);
  });
  it('parses nvidia-smi output', () => {
    const inv = parseNvidiaSmi(
      'NVIDIA H100 80GB HBM3, 81559, 550.54.15\nNVIDIA H100 80GB HBM3, 81559, 550.54.15\n',
      '| NVIDIA-SMI 550.54.15   Driver Version: 550.54.15   CUDA Version: 12.4 |',
    );
    assert.deepEqual(inv, {
      name: 'H100 80GB HBM3',
      count: 2,
      memoryMb: 85521,
      driverVersion: '550.54.15',
      cudaVersion: 12.4,
      computeCap: null,
      declared: false,
    });
    assert.equal(parseNvidiaSmi('', ''), null);
  });
});

describe('CLI search language', () => {
  it('reads vastai-style terms', () => {
    assert.deepEqual(parseSearchQuery('gpu_name=RTX_4090 num_gpus>=2 dph_total<0.5 reliability > 0.99 rentable=true gpu_ram>=24'), {
      gpu_name: { eq: 'RTX_4090' },
      num_gpus: { gte: 2 },
      dph_total: { lt: 0.5 },
      reliability: { gt: 0.99 },
      rentable: { eq: true },
      gpu_ram: { gte: 24000 },
    });
    assert.deepEqual(parseSearchQuery('geolocation in [US,CA] num_gpus != 3'), { geolocation: { in: ['US', 'CA'] }, num_gpus: { neq: 3 } });
    assert.throws(() => parseSearchQuery('num_gpus'), /Cannot read/);
    assert.deepEqual(parseOrder('num_gpus-,dph_total'), [
      ['num_gpus', 'desc'],
      ['dph_total', 'asc'],
    ]);
  });
});

describe('config', () => {
  it('takes flags over env over defaults, and durations as text', () => {
    const c = loadConfig({ env: { GANTRY_STOP_GRACE_MS: '3s', GANTRY_PORT: '9000' }, flags: { port: 9001 } });
    assert.equal(c.stopGraceMs, 3000);
    assert.equal(c.port, 9001);
    assert.ok(Object.isFrozen(c));
    assert.equal(parseDuration('2m'), 120_000);
    assert.throws(() => loadConfig({ env: { GANTRY_PORT: 'x' } }), /port/);
  });

  it('refuses at start, by name, what would stall a loop or fail later: zero counts and periods, ports past 65535, bad shapes', () => {
    const refused: [Record<string, string>, RegExp][] = [
      [{ GANTRY_RECONCILE_BATCH: '0' }, /Setting reconcileBatch needs at least 1/],
      [{ GANTRY_RECONCILE_CONCURRENCY: '0' }, /Setting reconcileConcurrency needs at least 1/],
      [{ GANTRY_HEARTBEAT_INTERVAL_MS: '0' }, /Setting heartbeatIntervalMs needs at least 1/],
      [{ GANTRY_MAX_JSON_DEPTH: '0' }, /Setting maxJsonDepth needs at least 1/],
      [{ GANTRY_PORT_RANGE_START: '70000', GANTRY_PORT_RANGE_END: '70010' }, /Setting portRangeStart needs a value from 1 to 65535/],
      [{ GANTRY_PORT_RANGE_START: '0' }, /Setting portRangeStart needs a value from 1 to 65535/],
      [{ GANTRY_PORT: '70000' }, /Setting port needs a value from 0 to 65535/],
      [{ GANTRY_LOG_LEVEL: 'loud' }, /Setting logLevel needs one of/],
      [{ GANTRY_DATABASE: 'mysql://x' }, /Setting database needs a postgres:\/\/ URL or a SQLite file path/],
      // Before: taken as a file named `file:/…` in the working directory, failing later on its folder's lock.
      [{ GANTRY_DATABASE: 'file:/var/lib/gantry/gantry.db' }, /Setting database needs a postgres:\/\/ URL or a SQLite file path/],
      [{ GANTRY_DATABASE: 'sqlite:gantry.db' }, /Setting database needs a postgres:\/\/ URL or a SQLite file path/],
      [{ GANTRY_PUBLIC_URL: 'notaurl' }, /Setting publicUrl needs an http:\/\/ or https:\/\/ URL/],
      // Before anything is written to the data dir, not when the runtime is picked.
      [{ GANTRY_PROCESS_SANDBOX: 'maybe' }, /processSandbox must be auto, bwrap or off, not 'maybe'/],
      [{ GANTRY_SQLITE_SYNCHRONOUS: 'off' }, /sqliteSynchronous must be full or normal, not 'off'/],
    ];
    for (const [env, msg] of refused) assert.throws(() => loadConfig({ env }), msg, JSON.stringify(env));
    const ok = loadConfig({ env: { GANTRY_DATABASE: 'postgres://u@h/db', GANTRY_PUBLIC_URL: 'https://gpu.example', GANTRY_PORT: '0' } });
    assert.equal(ok.database, 'postgres://u@h/db');
    for (const path of ['/var/lib/gantry/g.db', 'rel/g.db', ':memory:', 'C:/gantry/g.db'])
      assert.equal(loadConfig({ env: { GANTRY_DATABASE: path } }).database, path);
    assert.equal(loadConfig({ env: { GANTRY_DATABASE: '/var/lib/gantry/x.db' } }).database, '/var/lib/gantry/x.db', 'a SQLite file path');
  });
});
