#!/usr/bin/env node
// The CLI is compiled by `npm install` (the `prepare` script) into dist/.
import '../dist/src/cli/main.js';
