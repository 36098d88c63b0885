#!/usr/bin/env node
// Builds the web console (web/) into dist/web/: index.html, app.js and app.css (uPlot's CSS
// included), minified by esbuild with preact's JSX runtime. The control plane serves that folder
// at /console/ (src/api/edge/console-static.ts). Type checking is web/tsconfig.json's (tsc --noEmit).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'dist', 'web');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: join(root, 'web', 'src', 'main.tsx') },
  outdir: out,
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
});
// The page names each file with its content's hash, so a browser may cache them for good and an upgrade still loads the new ones.
const hash = (f) =>
  createHash('sha256')
    .update(readFileSync(join(out, f)))
    .digest('hex')
    .slice(0, 12);
const html = readFileSync(join(root, 'web', 'index.html'), 'utf8').replace(/\/console\/(app\.(?:js|css))"/g, (_m, f) => `/console/${f}?v=${hash(f)}"`);
writeFileSync(join(out, 'index.html'), html);
const size = (f) => statSync(join(out, f)).size;
if (!process.argv.includes('--quiet')) process.stdout.write(`dist/web: app.js ${size('app.js')} B, app.css ${size('app.css')} B\n`);
