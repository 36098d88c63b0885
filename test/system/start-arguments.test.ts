import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gantry } from '../helpers/cli.js';

/** What `gantry up` and `gantry agent` cannot work with is refused at once, naming it, with exit code 1. */
describe('start arguments', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gantry-args-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('an agent whose --server is not a URL stops at once instead of retrying for ever', async () => {
    const r = await gantry(['agent', '--server', 'notaurl', '--token', 'x', '--data-dir', join(dir, 'agent')], { PATH: process.env.PATH }, 20_000);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /--server needs an http:\/\/ or https:\/\/ URL, got 'notaurl'/);
  });

  it('gantry up with a setting that would stall a loop stops at once, naming the setting', async () => {
    const env = { PATH: process.env.PATH, GANTRY_RECONCILE_BATCH: '0' };
    const r = await gantry(['up', '--data-dir', join(dir, 'up'), '--port', '0', '--runtime', 'process'], env, 20_000);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /Setting reconcileBatch needs at least 1/);
  });

  it("gantry up on an address that is not this machine's stops at once, naming --host", async () => {
    // 192.0.2.1 is TEST-NET-1: reserved for documentation, never a local address (and no name lookup).
    const r = await gantry(
      ['up', '--data-dir', join(dir, 'host'), '--host', '192.0.2.1', '--port', '0', '--runtime', 'process'],
      { PATH: process.env.PATH },
      20_000,
    );
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /--host 192\.0\.2\.1 is not an address of this machine/);
  });
});
