import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { codeHash, packApp, type CodeConfig } from '../../src/sdk/code/package.js';
import { collectSources, localImports } from '../../src/sdk/code/scan.js';
import { readTarGz, writeTarGz } from '../../src/sdk/code/tar.js';
import { isWireError, RemoteError, toWireError } from '../../src/sdk/code/remote-error.js';

/** The Node deployments SDK's packing (decision 020): the import scanner, the tarball, the version hash. */
const dir = mkdtempSync(join(tmpdir(), 'gantry-code-pack-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const write = (rel: string, text: string): string => {
  const f = join(dir, rel);
  mkdirSync(join(f, '..'), { recursive: true });
  writeFileSync(f, text);
  return f;
};

describe('the import scanner', () => {
  it('finds static, dynamic, re-exported and required relative specifiers, each once, in order', () => {
    const src = [
      "import { a } from './a.js';",
      "import def, { b as c } from '../up/b.mjs';",
      "import './side.js';",
      "import * as ns from './ns.js';",
      "export { x } from './x.js';",
      "export * from './star.js';",
      "const lazy = await import('./lazy.js');",
      "const old = require('./old.cjs');",
      "import { z } from './a.js';",
      "import fs from 'node:fs';",
      "import { Deployment } from 'gantry/sdk';",
      'import(`./computed-${n}.js`);',
    ].join('\n');
    assert.deepEqual(localImports(src), ['./a.js', '../up/b.mjs', './side.js', './ns.js', './x.js', './star.js', './lazy.js', './old.cjs']);
  });

  it('does not follow imports in comments', () => {
    const src = "/* import './gone.js' */\n// import { y } from './also-gone.js';\nimport { k } from './kept.js';\n";
    assert.deepEqual(localImports(src), ['./kept.js']);
  });

  it('does not follow an import written in a string, a template, a regular expression or a comment after code', () => {
    const src = [
      'const help = "usage: import { h } from \'./helper.js\'";',
      "const x = 1; // was: import('./old-helper.js')",
      "const y = 2; /* import './block.js' */ const z = 3;",
      "const single = 'require(\\'./escaped.cjs\\')';",
      'const doc = `',
      "  import { t } from './in-template.js';",
      '`;',
      "const re = /import '.\\/in-regex.js'/;",
      "const half = y / 2; // import './after-division.js'",
      "x.require('./member.cjs');",
    ].join('\n');
    assert.deepEqual(localImports(src), []);
    // The probe's case: an app with such lines and no helper.js or old-helper.js beside it packs.
    const entry = write('strings/main.mjs', `${src}\nexport const ok = 1;\n`);
    assert.deepEqual(
      collectSources(entry).map((s) => s.path),
      ['main.mjs'],
    );
  });

  it('still finds every import among strings, templates, regular expressions and comments', () => {
    const src = [
      '#!/usr/bin/env node',
      "const help = 'import \"./not.js\"'; import { a } from './static.js'; // import './no.js'",
      "export { b } from './reexport.js'; /* export * from './no2.js' */",
      "import './side-effect.js';",
      "const t = `text ${await import('./in-expression.js')} ${ { k: '}' }.k } import './no3.js'`;",
      "const lazy = await import( './dynamic.js' );",
      "const re = /'/; const cfg = { ...require('./spread.cjs') };",
      "if (/\\/\\*/.test(help)) import('./after-regex.js');",
      "const m = await import('./with-attributes.js', { with: { type: 'javascript' } });",
    ].join('\n');
    assert.deepEqual(localImports(src), [
      './static.js',
      './reexport.js',
      './side-effect.js',
      './in-expression.js',
      './dynamic.js',
      './spread.cjs',
      './after-regex.js',
      './with-attributes.js',
    ]);
  });

  it('tells a division from a regular expression after a postfix ++/-- and a property named like a keyword', () => {
    assert.deepEqual(localImports("let i = 0;\nconst a = i++ / 2, t = `/`;\nimport './x.js';\nconst y = require('./y.js');"), ['./x.js', './y.js']);
    assert.deepEqual(localImports("let n = 3; n-- / 2; const s = '/'; require('./c.js');"), ['./c.js']);
    assert.deepEqual(localImports("const obj = { in: 4 }; const h = obj.in / 2, y = '/'; import('./d.js');"), ['./d.js']);
    assert.deepEqual(localImports("const r = ++i; const re = /'/; import('./e.js');"), ['./e.js']);
  });

  it('packs what the patterns find on the raw text too, when that file exists: a guess the lexer gets wrong costs no file', () => {
    // `{a:1} / 2` after a `}` is read as a regular expression (taken for a block's end): the masked scan misses ./z.js.
    const src = "const r = {a:1} / 2, t = '/'; import('./z.js');\n// import './gone.js' (a comment naming a file that is not there)\n";
    assert.deepEqual(localImports(src), []);
    const entry = write('net/main.mjs', src);
    write('net/z.js', 'export const z = 1;\n');
    assert.deepEqual(
      collectSources(entry).map((s) => s.path),
      ['main.mjs', 'z.js'],
    );
  });

  it('collects the entry and what it reaches, sorted, once each, and refuses what it cannot pack', () => {
    const entry = write('app/main.mjs', "import { h } from './lib/helper.js';\nimport './lib/cycle.js';\n");
    write('app/lib/helper.js', "import { u } from './util.cjs';\nexport const h = 1;\n");
    write('app/lib/util.cjs', "require('../main.mjs');\n");
    write('app/lib/cycle.js', "import './helper.js';\n");
    write('app/unused.js', 'export const no = 1;\n');
    assert.deepEqual(
      collectSources(entry).map((s) => s.path),
      ['lib/cycle.js', 'lib/helper.js', 'lib/util.cjs', 'main.mjs'],
    );
    assert.throws(() => collectSources(write('bad/ts.mjs', "import './x.ts';\n")), /only \.js, \.mjs, \.cjs files are packed/);
    assert.throws(() => collectSources(write('out/main.mjs', "import '../elsewhere.js';\n")), /outside the entry's directory/);
    assert.throws(() => collectSources(write('miss/main.mjs', "import './nope.js';\n")), /nope\.js, which cannot be read/);
  });
});

describe('the tarball', () => {
  const entries = [
    { path: 'config.json', data: Buffer.from('{"name":"x"}') },
    { path: 'lib/helper.js', data: Buffer.from('export const h = 1;\n') },
    { path: 'empty.js', data: Buffer.alloc(0) },
    { path: 'block.bin', data: Buffer.alloc(512, 7) },
    { path: `${'d'.repeat(90)}/${'f'.repeat(60)}.js`, data: Buffer.from('long name') },
  ];

  it('reads back what it wrote, and the same files make the same bytes', () => {
    const gz = writeTarGz(entries);
    assert.deepEqual(readTarGz(gz), entries);
    assert.deepEqual(writeTarGz(entries), gz);
  });

  it('is a tarball the system tar reads', { skip: !hasTar() && 'no tar program' }, () => {
    const out = join(dir, 'untar');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(dir, 'x.tar.gz'), writeTarGz(entries));
    execFileSync('tar', ['-xzf', join(dir, 'x.tar.gz'), '-C', out]);
    const listed = execFileSync('tar', ['-tzf', join(dir, 'x.tar.gz')], { encoding: 'utf8' })
      .trim()
      .split('\n');
    assert.deepEqual(
      listed,
      entries.map((e) => e.path),
    );
  });

  it('refuses paths that would leave the extraction directory', () => {
    for (const p of ['../x.js', '/etc/passwd', 'a/../../b', '']) assert.throws(() => writeTarGz([{ path: p, data: Buffer.from('x') }]), /not a relative path/);
  });
});

function hasTar(): boolean {
  try {
    execFileSync('tar', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('the version hash', () => {
  const config: CodeConfig = { name: 'app', runtime: 'node', entry: 'main.mjs', npm: [], envs: [], runs: [] };
  const a = { path: 'a.js', data: Buffer.from('a') };
  const b = { path: 'b.js', data: Buffer.from('b') };

  it('does not depend on the order the sources were found in', () => {
    assert.equal(codeHash(config, [a, b]), codeHash(config, [b, a]));
  });

  it('changes with any source, a renamed file, or the config', () => {
    const base = codeHash(config, [a, b]);
    assert.notEqual(codeHash(config, [a, { ...b, data: Buffer.from('B') }]), base);
    assert.notEqual(codeHash(config, [a, { ...b, path: 'c.js' }]), base);
    assert.notEqual(codeHash({ ...config, npm: ['left-pad'] }, [a, b]), base);
    // Path and content are framed: moving a byte from one to the other is a change.
    assert.notEqual(codeHash(config, [{ path: 'ab', data: Buffer.from('c') }]), codeHash(config, [{ path: 'a', data: Buffer.from('bc') }]));
  });

  it('is the same for an unchanged app packed twice, and its tarball holds config.json and the sources', () => {
    const entry = write('same/main.mjs', "import './h.js';\n");
    write('same/h.js', 'export {};\n');
    const one = packApp(entry, { name: 'same', npm: [], envs: [], runs: [] });
    const two = packApp(entry, { name: 'same', npm: [], envs: [], runs: [] });
    assert.equal(one.fileHash, two.fileHash);
    assert.match(one.fileHash, /^[0-9a-f]{64}$/);
    const files = readTarGz(one.tarball);
    assert.deepEqual(
      files.map((f) => f.path),
      ['config.json', 'h.js', 'main.mjs'],
    );
    assert.deepEqual(JSON.parse(String(files[0]?.data)), { name: 'same', runtime: 'node', entry: 'main.mjs', npm: [], envs: [], runs: [] });
    write('same/h.js', 'export const changed = 1;\n');
    assert.notEqual(packApp(entry, { name: 'same', npm: [], envs: [], runs: [] }).fileHash, one.fileHash);
  });
});

describe('values and errors across the wire', () => {
  it('turns a thrown error into {name, message, stack} and back into a RemoteError with both stacks', () => {
    const thrown = new RangeError('x must not be negative');
    const wire = toWireError(thrown);
    assert.deepEqual(Object.keys(wire), ['name', 'message', 'stack']);
    assert.equal(wire.name, 'RangeError');
    assert.ok(isWireError(JSON.parse(JSON.stringify(wire))));
    const e = new RemoteError('check', wire);
    assert.ok(e instanceof Error);
    assert.equal(e.name, 'RemoteError');
    assert.equal(e.remoteName, 'RangeError');
    assert.equal(e.message, 'x must not be negative');
    assert.match(
      String(e.stack),
      /^RemoteError: x must not be negative\n[\s\S]*--- on the worker, in check\(\) ---\nRangeError: x must not be negative\n\s+at /,
    );
  });

  it('carries a thrown non-error as its text', () => {
    assert.deepEqual(toWireError('plain'), { name: 'Error', message: 'plain', stack: 'Error: plain' });
    assert.ok(!isWireError({ message: 'no name' }));
  });
});
