#!/usr/bin/env node
// Regenerates docs/errors.md and docs/config.md from the code (run after `npm run build`);
// test/unit/docs.test.ts fails when they drift.
import { readFileSync, writeFileSync } from 'node:fs';
import { ERROR_CODES } from '../dist/src/domain/errors.js';
import { SETTINGS, envName } from '../dist/src/config/schema.js';
import { statusOf } from '../dist/src/api/errors.js';

const esc = (s) => String(s).replace(/\|/g, '\\|');
const errors = [
  '# Error codes',
  '',
  'Every error Gantry returns carries one of these stable codes. The HTTP status follows the kind',
  '(one table, `src/api/errors.ts`); each API dialect renders its own body. The Vast.ai dialect answers',
  '`{"success": false, "error": "<vast name>", "msg": "<text>", "code": "<CODE>"}`.',
  '',
  '| code | kind | HTTP | retryable | meaning |',
  '|---|---|---|---|---|',
  ...Object.entries(ERROR_CODES).map(([code, s]) => `| \`${code}\` | ${s.kind} | ${statusOf(s.kind)} | ${s.retryable ? 'yes' : 'no'} | ${esc(s.doc)} |`),
  '',
].join('\n');
writeFileSync(new URL('../docs/errors.md', import.meta.url), errors);

const fmt = (k, s) => (s.default === null ? '(none)' : s.type === 'duration' ? `${s.default} ms` : s.default === '' ? '(see meaning)' : `\`${s.default}\``);
const bounds = (s) => (s.max !== undefined ? ` (${s.min ?? 0} to ${s.max})` : s.min !== undefined ? ` (at least ${s.min})` : '');
const config = [
  '# Configuration',
  '',
  'Sources, strongest first: command-line flags, `GANTRY_*` environment variables, a JSON file',
  '(`--config FILE` or `GANTRY_CONFIG`; unknown keys are an error), then the defaults below.',
  'Durations accept `500ms`, `10s`, `2m`, `1h` or a number of milliseconds. Every timeout is here so',
  'that tests and operators can shrink or stretch it. A value of the wrong type, outside the bounds a',
  'setting shows, or of the wrong shape (`logLevel`, `database`, `publicUrl`) stops the start with a',
  'message that names the setting.',
  '',
  '| setting | environment | flag | default | meaning |',
  '|---|---|---|---|---|',
  ...Object.entries(SETTINGS).map(([k, s]) => `| \`${k}\` | \`${envName(k)}\` | ${s.flag ? `\`${s.flag}\`` : ''} | ${fmt(k, s)} | ${esc(s.doc)}${bounds(s)} |`),
  '',
  'The CLI reads `GANTRY_URL` and `GANTRY_API_KEY` (or `--url`, `--api-key`); without them it uses the',
  '`url` and `admin.key` files that `gantry up` writes into its data directory (`GANTRY_DATA_DIR`).',
  '',
].join('\n');
writeFileSync(new URL('../docs/config.md', import.meta.url), config);

// docs/vast-compat.md and the README's count of passing verbs, from the compatibility suite's record.
const { renderCompatDoc, readmeCountLine } = await import('../dist/test/compat/expected.js');
const compat = JSON.parse(readFileSync(new URL('../test/compat/vast-verbs.expected.json', import.meta.url), 'utf8'));
writeFileSync(new URL('../docs/vast-compat.md', import.meta.url), renderCompatDoc(compat));
const readmeUrl = new URL('../README.md', import.meta.url);
writeFileSync(
  readmeUrl,
  readFileSync(readmeUrl, 'utf8').replace(/^( *)The compatibility suite passes \*\*.*$/m, (_, indent) => indent + readmeCountLine(compat)),
);
