#!/usr/bin/env node
// The process that started this one, read before the CLI loads: under `npx` npm may be gone by the time a
// long-running verb starts watching it (src/cli/stop-signals.ts), and a parent read then would be whichever
// process adopted this one.
globalThis[Symbol.for('gantry.launchParent')] = process.ppid;
// The CLI is compiled by `npm install` (the `prepare` script) into dist/.
await import('../dist/src/cli/main.js');
