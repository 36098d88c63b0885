import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bootstrapPhase } from '../../src/domain/serverless/bootstrap-phase.js';

/** Lines as Vast's serve_deployment and worker library print them, in order (from a real run's log). */
const RUN = [
  ['Fetching download URL for deployment 1', 'downloading'],
  ['Downloading deployment tarball', 'downloading'],
  ['Extracting deployment tarball', 'downloading'],
  ['Loaded config for deployment: sdk-workers', 'downloading'],
  ['Exporting 2 environment variables', 'installing'],
  ['Installing 1 pip packages', 'installing'],
  ['Running 1 setup scripts', 'installing'],
  ['Starting deployment worker: sdk-workers', 'loading_contexts'],
  ['2026-12-03 18:06:39[DEBUG] Starting Worker Server...', 'loading_contexts'],
  ['2026-12-03 18:06:39[DEBUG] Running benchmark', 'benchmarking'],
  ['Run: 1, concurrent_requests: 1', 'benchmarking'],
  ['2026-12-03 18:06:39[DEBUG] Model marked as loaded via lifecycle', 'ready'],
] as const;

describe("a code deployment worker's bootstrap phase, from its output", () => {
  it("reads the Node bootstrap's npm line as installing (it prints the Python bootstrap's other lines)", () => {
    assert.equal(bootstrapPhase('Extracting deployment tarball\nInstalling 2 npm packages'), 'installing');
  });

  it('follows the bootstrap line by line', () => {
    assert.equal(bootstrapPhase(''), null);
    for (let i = 0; i < RUN.length; i++) {
      const [, phase] = RUN[i] as (typeof RUN)[number];
      assert.equal(
        bootstrapPhase(
          RUN.slice(0, i + 1)
            .map(([l]) => `1796321199165916 o ${l}`)
            .join('\n'),
        ),
        phase,
        `after line ${i + 1}`,
      );
    }
  });

  it('says failed when the bootstrap or the worker library gives up', () => {
    assert.equal(bootstrapPhase('Running 1 setup scripts\nTraceback (most recent call last):\n  File "x"'), 'failed');
    assert.equal(bootstrapPhase('Starting deployment worker: a\n[ERROR] Lifecycle startup failed: boom'), 'failed');
  });
});
