import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { machineReg } from '../helpers/machines.js';
import { ONE_STORE } from '../helpers/stores.js';
import { startVastClients, vastClientsMissing, type VastClients } from '../helpers/vast-clients.js';

/**
 * The official Vast CLIs, unchanged, on the host verbs (one machine, maintenances, reports, defrag,
 * metrics), delete machine, the verbs Gantry refuses on purpose (default jobs, overlays), price
 * increases and benchmarks, and the instance verbs around one running instance.
 */
const ts = ONE_STORE[0]!;
const skip = ts.skip || vastClientsMissing();

/** Runs a client's main() with `input()` answering "y": schedule/cancel maint ask before acting. */
function withYes(kind: 'legacy' | 'vastai', argv: string[]): string {
  const entry =
    kind === 'legacy'
      ? `import importlib.util, os\nspec = importlib.util.spec_from_file_location("vast", os.path.join(sys.path[0], "vast.py"))\nm = importlib.util.module_from_spec(spec)\nspec.loader.exec_module(m)\nmain = m.main`
      : 'from vastai.cli.main import main';
  return `import builtins, sys\nbuiltins.input = lambda *a: "y"\n${entry}\nsys.argv = ["vast", "--url", URL, "--api-key", KEY, *${JSON.stringify(argv)}]\nmain()`;
}

describe('the official Vast clients: host verbs, refusals and instance verbs', { skip }, () => {
  let g: TestGantry;
  let vast: VastClients;
  let inst: number;
  const both = async (args: string[], check: (out: string, kind: string) => void): Promise<void> => {
    for (const kind of ['legacy', 'vastai'] as const) {
      const r = await vast[kind](args);
      check(r.out, `${kind} ${args.join(' ')}: ${r.out}`);
    }
  };

  before(async () => {
    g = await startTestGantry(ts, { gpus: '4x RTX 4090:24GB' });
    vast = startVastClients(g.url, g.adminKey as string);
    const r = await g.api('PUT', '/api/v0/asks/1001/', { image: 'x', disk: 1, onstart: 'for i in 1 2 3 4 5; do echo line$i; done; echo ERRORX; sleep 300' });
    inst = r.body.new_contract as number;
    await g.waitInstance(inst, (x) => x.actual_status === 'running', 90_000);
  });
  /** A deliberate refusal: HTTP 400 and the reason (the legacy client prints the body, then the status). */
  const refused = (why: RegExp) => (out: string, where: string) => {
    assert.match(out, /error 400/, where);
    assert.match(out, why, where);
  };
  after(async () => {
    vast.close();
    await g.dispose();
  });

  it('show machine ID, show maints after schedule maint, cancel maint, reports, defrag', async () => {
    await both(['show', 'machine', '1', '--raw'], (out, why) => {
      const rows = JSON.parse(out.slice(out.indexOf('['))) as { id: number; num_gpus: number; num_reports: number }[];
      assert.deepEqual(
        rows.map((m) => [m.id, m.num_gpus, m.num_reports]),
        [[1, 4, 0]],
        why,
      );
    });
    const sdate = Math.floor(Date.now() / 1000) + 86400;
    for (const kind of ['legacy', 'vastai'] as const) {
      const s = await vast.sdk(withYes(kind, ['schedule', 'maint', '1', '--sdate', String(sdate), '--duration', '2', '--maintenance_category', 'power']));
      assert.match(s.out, /Maintenance window scheduled for .* success/, s.out);
      const idsFlag = kind === 'legacy' ? '-ids' : '--ids';
      const shown = await vast[kind](['show', 'maints', idsFlag, '1', '--raw']);
      const rows = JSON.parse(shown.out.slice(shown.out.indexOf('['))) as Record<string, unknown>[];
      assert.deepEqual(rows, [{ machine_id: 1, start_time: sdate, end_time: sdate + 7200, duration_hours: 2, maintenance_category: 'power' }], shown.out);
      const c = await vast.sdk(withYes(kind, ['cancel', 'maint', '1']));
      assert.match(c.out, /Cancel maintenance window\(s\) scheduled for machine 1 success/, c.out);
      assert.deepEqual((await g.api('GET', '/api/v0/machines/maintenances/?machine_ids=[1]')).body, []);
    }
    await both(['reports', '1'], (out, why) => assert.match(out, /reports: \[\]/, why));
    await both(['defrag', 'machines', '1'], (out, why) => assert.match(out, /defragment result: .*'success': True.*nothing to move.*'rented_gpus': 1/, why));
    assert.match((await vast.vastai(['show', 'machine', '99'])).out, /404.*No machine with id 99/);
  });

  it('refused on purpose, each with its reason: default jobs, overlays; delete machine of a silent host; none pending: price increases, benchmarks', async () => {
    await both(['set', 'defjob', '1', '--price_gpu', '0.1', '--image', 'x'], refused(/no default jobs.*--bid_price/));
    await both(['remove', 'defjob', '1'], refused(/no default jobs/));
    // delete machine: refused while the host's agent is connected (409, the reason); a silent host's machine goes.
    await both(['delete', 'machine', '1'], (out, where) => {
      assert.match(out, /error 409/i, where);
      assert.match(out, /still connected.*then delete it/, where);
    });
    for (const kind of ['legacy', 'vastai'] as const) {
      const gone = (await g.store.registerMachine(machineReg(`gone-${kind}`, 1, 1), Date.now() - 3_600_000)).id;
      const r = await vast[kind](['delete', 'machine', String(gone)]);
      assert.match(r.out, new RegExp(`deleted machine_id \\(${gone}\\) and all related contracts`), `${kind}: ${r.out}`);
    }
    assert.match((await vast.legacy(['show', 'overlays'])).out, /Overlay ID/);
    assert.match((await vast.legacy(['show', 'clusters'])).out, /ID/);
    for (const args of [
      ['create', 'cluster', '10.0.0.0/24', '1'],
      ['join', 'cluster', '1', '1'],
      ['delete', 'cluster', '1'],
      ['remove-machine-from-cluster', '1', '1'],
    ])
      refused(/no physical clusters/)((await vast.legacy(args)).out, args.join(' '));
    refused(/no overlay networks/)((await vast.legacy(['create', 'overlay', '1', 'net'])).out, 'create overlay');
    refused(/no overlay networks/)((await vast.legacy(['join', 'overlay', 'net', String(inst)])).out, 'join overlay');
    assert.match((await vast.vastai(['show', 'pending-price-increases'])).out, /No pending price increases\./);
    const acc = await vast.vastai(['accept', 'price-increase', String(inst), '-y']);
    assert.match(acc.out, /Accepted 0 \/ Stale 1 \/ Failed 0 of 1 requested/, acc.out);
    const rej = await vast.vastai(['reject', 'price-increase', String(inst), '-y']);
    assert.match(rej.out, /Rejected 0 \/ Stale 1/, rej.out);
    const direct = await g.api('PUT', '/api/v0/instances/accept-price-increase/', { pending_price_increase_id: 7 });
    assert.equal(direct.status, 404);
    assert.equal(direct.body.error, 'no_pending_price_increase');
    const bench = await vast.vastai(['search', 'benchmarks', '--raw']);
    assert.equal(bench.out.trim(), '[]', bench.out);
  });

  it('metrics gpu, gpu-trends and gpu-locations from the fleet and its rentals', async () => {
    const cur = await vast.vastai(['metrics', 'gpu', '--raw']);
    const gpus = (JSON.parse(cur.out) as { gpus: Record<string, unknown>[] }).gpus;
    assert.equal(gpus.length, 1, cur.out);
    assert.equal(gpus[0]?.gpu_name, 'RTX 4090');
    assert.equal(gpus[0]?.total, 4);
    assert.equal(gpus[0]?.available, 3);
    assert.equal(gpus[0]?.usage, 25);
    assert.match((await vast.vastai(['metrics', 'gpu'])).out, /RTX_4090\s+4\s+3\s+25\.0/);
    const trends = await vast.vastai(['metrics', 'gpu-trends', 'RTX 4090']);
    assert.match(trends.out, /=== RTX 4090 ===/, trends.out);
    assert.match(trends.out, /0\.2000/, trends.out);
    const loc = await vast.vastai(['metrics', 'gpu-locations', '--raw']);
    assert.deepEqual(
      (JSON.parse(loc.out) as { locations: { gpu_name: string; num_gpus: number; rented: boolean }[] }).locations.map((l) => [
        l.gpu_name,
        l.num_gpus,
        l.rented,
      ]),
      [['RTX 4090', 4, true]],
    );
    // An account without machines gets Vast's answer for renters: no metrics.
    const renter = (await g.api('POST', '/api/v0/users/', { username: 'renter-only' })).body.api_key as string;
    assert.match((await vast.vastai(['metrics', 'gpu'], renter)).out, /No metrics available\. This endpoint is for hosts with active machines\./);
  });

  it('instance verbs: show, label, logs (--tail, --filter, --daemon-logs), reboot, recycle, bulk stop/start, search offers, dump-logs', async () => {
    const id = String(inst);
    await both(['show', 'instance', id, '--raw'], (out, why) => assert.equal((JSON.parse(out) as { id: number }).id, inst, why));
    await both(['show', 'instances', '--raw'], (out, why) =>
      assert.ok(
        (JSON.parse(out) as { id: number }[]).some((i) => i.id === inst),
        why,
      ),
    );
    await both(['show', 'instances-v1', '--raw'], (out, why) => assert.match(out, new RegExp(`"id": ${inst}`), why));
    await both(['label', 'instance', id, 'tagged'], (out, why) => assert.match(out, /label for \d+ set to tagged/, why));
    await both(['logs', id, '--tail', '2'], (out, why) => assert.match(out, /line5\nERRORX/, why));
    await both(['logs', id, '--filter', 'ERR'], (out, why) => {
      assert.match(out, /ERRORX/, why);
      assert.doesNotMatch(out, /line1/, why);
    });
    await both(['logs', id, '--daemon-logs'], (out, why) => assert.match(out, /line1/, why));
    await both(['search', 'offers', 'num_gpus>=1 gpu_name=RTX_4090 rented=any', '-o', 'dph-', '--raw'], (out, why) => {
      const offers = JSON.parse(out) as { num_gpus: number; dph_total: number }[];
      assert.ok(offers.length > 0, why);
      assert.deepEqual(
        offers.map((o) => o.dph_total),
        [...offers.map((o) => o.dph_total)].sort((a, b) => b - a),
        why,
      );
    });
    // dump-logs is the client's own tarball; with --instance-id it reads the instance and its logs here.
    const dir = mkdtempSync(join(tmpdir(), 'gantry-dump-'));
    try {
      const d = await vast.vastai(['dump-logs', '1', '--instance-id', id, '--output-dir', dir]);
      assert.match(d.out, /instance\/container\.log/, d.out);
      assert.doesNotMatch(d.out, /could not be collected/, d.out);
      assert.equal(readdirSync(dir).length, 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await both(['reboot', 'instance', id], (out, why) => assert.match(out, /Rebooting instance/, why));
    await g.waitInstance(inst, (x) => x.actual_status === 'running', 90_000);
    await both(['recycle', 'instance', id], (out, why) => assert.match(out, /Recycling instance/, why));
    await g.waitInstance(inst, (x) => x.actual_status === 'running', 90_000);
    // Bulk: one line for the batch; an unknown id is named in msg (the legacy client requires msg).
    const stop = await vast.legacy(['stop', 'instances', id, '99999']);
    assert.match(stop.out, /instance 99999: No instance with id 99999/, stop.out);
    assert.doesNotMatch(stop.out, /'msg'|retrying/, stop.out);
    await g.waitInstance(inst, (x) => x.actual_status === 'stopped', 90_000);
    const start = await vast.vastai(['start', 'instances', id]);
    assert.match(start.out, new RegExp(`starting instance \\[${inst}\\]`), start.out);
    await g.waitInstance(inst, (x) => x.actual_status === 'running', 90_000);
    // self-test runs on the client: it reads this machine's offer and says which of Vast's requirements it misses.
    const st = await vast.vastai(['self-test', 'machine', '1', '--no-support-bundle']);
    assert.match(st.out, /Preflight diagnostics for machine 1 failed:\n- CUDA version/, st.out);
    assert.match(st.out, /Test failed: \d+ preflight requirement check\(s\) failed/, st.out);
    assert.doesNotMatch(st.out, /Traceback/, st.out);
  });
});
