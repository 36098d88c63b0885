import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gantry, type CliResult } from '../helpers/cli.js';
import { inProcess } from '../helpers/cli-in-process.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { ONE_STORE } from '../helpers/stores.js';

/** Human output: no raw JSON (no line opens an object or array) and never a negative zero amount. */
function readable(r: CliResult, what: string): string {
  assert.equal(r.code, 0, `${what}: ${r.stdout}${r.stderr}`);
  const json = r.stdout.split('\n').filter((l) => l.startsWith('{') || l.startsWith('['));
  assert.deepEqual(json, [], `${what} printed JSON:\n${r.stdout}`);
  assert.ok(!r.stdout.includes('$-0.00'), `${what}: ${r.stdout}`);
  return r.stdout;
}

/** Every data verb of the CLI, run against one gantry as a user runs it: readable by default, JSON with --raw. */
for (const ts of ONE_STORE) {
  describe(`CLI output (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let env: NodeJS.ProcessEnv;
    const run = (...args: string[]): Promise<CliResult> => inProcess(args, g.url, g.adminKey ?? '');
    const human = async (...args: string[]): Promise<string> => readable(await run(...args), args.join(' '));
    const raw = async (...args: string[]): Promise<unknown> => {
      const r = await run(...args, '--raw');
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout);
    };

    before(async () => {
      g = await startTestGantry(ts, { localHost: true });
      env = { ...process.env, GANTRY_URL: g.url, GANTRY_API_KEY: g.adminKey ?? '' };
    });
    after(async () => g.dispose());

    it('instance verbs: one line per call and per id, tables with units, one closing line after --wait', async () => {
      // The real entry point, as a user runs it.
      const created = await gantry(['create', 'instance', '1001', '--onstart-cmd', 'sleep 600', '--wait'], env, 120_000);
      const out = readable(created, 'create instance');
      const a = Number(/^Created instance (\d+) from offer 1001\.$/m.exec(out)?.[1]);
      assert.ok(a > 0, out);
      assert.match(created.stderr, new RegExp(`✔ instance ${a} running\\n$`));
      const b = Number(/Created instance (\d+)/.exec(await human('create', 'instance', '1001', '--onstart-cmd', 'sleep 600'))?.[1]);
      // An instance that wrote nothing says so on stderr; stdout stays what the instance wrote.
      const quiet = await run('logs', String(a), '--tail', '50');
      assert.deepEqual([quiet.code, quiet.stdout, quiet.stderr], [0, '', `Instance ${a} has written nothing yet.\n`]);

      const stopped = await run('stop', 'instance', String(a), '--wait');
      readable(stopped, 'stop instance');
      assert.match(stopped.stderr, new RegExp(`✔ instance ${a} stopped\\n$`));
      assert.equal(stopped.stderr.match(/stopped/g)?.length, 1, stopped.stderr);

      const table = await human('show', 'instances');
      assert.match(table, /^ID\s+Machine\s+Status\s+Intended\s+N\s+Model\s+Ports\s+\$\/hr\s+Disk\s+Image\s+Label\s+Message$/m);
      assert.match(table, new RegExp(`^${a}\\s+1\\s+stopped\\s.*\\d\\.\\d{4} \\(disk\\)\\s+8 GB`, 'm'), 'a stopped instance shows its disk price');
      assert.ok((table.match(/process runtime/g)?.length ?? 0) <= 1, `the runtime note is said once at most:\n${table}`);
      assert.match(await human('show', 'instance', String(b)), /\d\.\d{4}\s+8 GB/);
      assert.match(await human('label', 'instance', String(a), 'web'), /Labelled instance/);
      assert.equal(await human('stop', 'instances', String(a), String(b)), `instance ${a}: already stopped\ninstance ${b}: stopped\n`);
      await g.waitInstance(b, (x) => x.actual_status === 'stopped', 60_000);
      assert.equal(await human('start', 'instances', String(a), String(b)), `instance ${a}: started\ninstance ${b}: started\n`);
      assert.equal(await human('destroy', 'instances', String(a), String(b)), `instance ${a}: destroyed\ninstance ${b}: destroyed\n`);
      for (const deadline = Date.now() + 60_000; ((await raw('show', 'instances')) as unknown[]).length > 0;) {
        assert.ok(Date.now() < deadline, 'the instances are destroyed');
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(await human('show', 'instances'), 'No instances.\n');
      const listed = await gantry(['show', 'instances', '--raw'], env, 120_000);
      assert.deepEqual(JSON.parse(listed.stdout), []);
    });

    it('machine, account and billing verbs print lines and tables; --raw prints JSON', async () => {
      const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOutputTestOutputTestOutputTestOutputTest100 t@x';
      const outs = await Promise.all([
        human('create', 'user', 'carol', '--credit', '5'),
        human('create', 'ssh-key', key),
        human('create', 'env-var', 'FOO', 'bar'),
        human('schedule', 'maint', '1', '--sdate', '4102444800', '--duration', '2'),
        human('set', 'min-bid', '1', '--price', '0.15'),
      ]);
      assert.match(outs[0] ?? '', /Created user carol/);
      assert.match(outs[1] ?? '', /Added SSH key \d+/);
      assert.match(outs[3] ?? '', /Maintenance of machine 1 scheduled: 2100-01-01 00:00 UTC for 2 h/);
      assert.match(outs[4] ?? '', /\$0\.1500 per GPU per hour/);
      assert.match(await human('transfer', 'credit', 'carol', '2'), /^Sent \$2\.00 to carol/);

      const [machines, user, invoices, charges, earnings, audit, sshKeys, envVars, apiKeys, offers] = await Promise.all([
        human('show', 'machines'),
        human('show', 'user'),
        human('show', 'invoices'),
        human('show', 'charges'),
        human('show', 'earnings'),
        human('show', 'audit-logs', '--limit', '5'),
        human('show', 'ssh-keys'),
        human('show', 'env-vars'),
        human('show', 'api-keys'),
        human('search', 'offers'),
      ]);
      assert.match(machines, /^ID\s+Host\s+N\s+Model\s+GPU RAM\s+Disk\s+\$\/GPU\/hr\s+Listed\s+Verified\s+Runtime\s+Maintenance\s+Online$/m);
      assert.match(machines, /\d+ GB\s+\d\.\d{4}\s+yes\s+verified\s+process\s+2100-01-01 00:00\.\.2100-01-01 02:00.*\syes$/m);
      assert.match(user, /^User:\s+admin \(id 1\), admin$/m);
      assert.match(user, /^Balance:\s+\$\d+\.\d\d$/m);
      assert.match(user, /^Permissions:\s+.*instance_read/m);
      assert.match(invoices, /No invoices\.|Total: \$/);
      assert.match(charges, /Start\s+End\s+Type\s+Source\s+Amount\s+\$\/hr[\s\S]*Total: \$\d+\.\d{4}/);
      // No user named: the caller's own, as `vastai show earnings` (`gantry` asked for a user id).
      assert.equal(((await raw('show', 'earnings')) as { username: string }).username, 'admin');
      assert.match(earnings, /Per day \(UTC\):\nDay\s+GPU[\s\S]*^\d{4}-\d\d-\d\d\s+\$/m, 'days are dates');
      assert.match(audit, /^ID\s+When\s+User\s+Key\s+From\s+Call\s+Status/m);
      assert.match(audit, /PUT \/api\/v0\/machines\/1\/minbid\//);
      assert.match(sshKeys, /ssh-ed25519 AAAAC3NzaC1l…/);
      assert.match(envVars, /FOO\s+bar/);
      assert.match(apiKeys, /admin/);
      assert.match(offers, /^ID\s+Machine.*\$\/hr/m);

      const money = await Promise.all([raw('show', 'user'), raw('show', 'charges'), raw('show', 'earnings', '1'), raw('show', 'machines')]);
      assert.equal((money[0] as { username: string }).username, 'admin');
      assert.equal((money[0] as { api_key?: string }).api_key, undefined, 'the key itself is not printed');
      assert.ok(Array.isArray((money[2] as { per_day: unknown[] }).per_day));

      assert.match(await human('cancel', 'maint', '1'), /maintenance|Maintenance/);
      assert.match(await human('unlist', 'machine', '1'), /unlisted|Unlisted/i);
      assert.match(await human('list', 'machine', '1', '-g', '0.3'), /listed|Listed/);
      const gone = await run('delete', 'machine', '1');
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, /still connected.*then delete it/);
      // A number that does not parse stops the verb, naming the flag, rather than being dropped for a default.
      for (const [args, msg] of [
        [['create', 'instance', '1001', '--disk', 'abc'], /--disk 'abc' is not a number/],
        [['logs', '1', '--tail', 'abc'], /--tail 'abc' is not a number/],
        [['search', 'offers', '--limit', 'x'], /--limit 'x' is not a number/],
        [['transfer', 'credit', '1', 'abc'], /amount 'abc' is not a number/],
        // Endpoint parameters too: Number('abc') went out as null (nothing changed, "Updated") and '' as 0.
        [['update', 'endpoint', '1', '--max_workers', 'abc'], /--max_workers 'abc' is not a number/],
        [['update', 'endpoint', '1', '--max_workers', ''], /--max_workers '' is not a number/],
        [['create', 'endpoint', '--endpoint_name', 'nan', '--target-util', 'x'], /--target_util 'x' is not a number/],
        [['create', 'workergroup', '--endpoint_id', 'abc'], /'abc' is not an endpoint id/],
        // A worker search is checked as `search offers` checks its query: the API would ignore the unknown field.
        [['create', 'deployment', '--name', 'typo', '--search', 'num_gpu=1'], /Unknown field 'num_gpu'. Did you mean 'num_gpus'/],
        // Credit is bounded: 1e308 twice is an Infinity balance, shown as null, that no transfer brings back.
        [['transfer', 'credit', '1', '1e308'], /amount must be at most 1,000,000,000/],
      ] as const) {
        const r = await run(...args);
        assert.equal(r.code, 1, args.join(' '));
        assert.match(r.stderr, msg);
      }
    });

    it('serverless verbs print lines and tables', async () => {
      const made = await human('create', 'deployment', '--name', 'out', '--image', 'local/worker', '--search', 'num_gpus=1', '--max_workers', '0');
      const id = /Created deployment (\d+) 'out': endpoint (\d+)/.exec(made);
      assert.ok(id !== null, made);
      const [deps, one, eps, wgs] = await Promise.all([
        human('show', 'deployments'),
        human('show', 'deployment', id[1] ?? ''),
        human('show', 'endpoints'),
        human('show', 'workergroups'),
      ]);
      for (const t of [deps, one]) assert.match(t, /^\d+\s+out\s+active/m);
      assert.match(eps, /out\s+active/);
      assert.match(wgs, /num_gpus=1/);
      // An empty list says so instead of printing a bare header.
      assert.equal(await human('get', 'endpoint', 'workers', id[2] ?? ''), 'No workers.\n');
      // Logs by the endpoint's id (as `vastai get endpt-logs ID`) and by its name alike.
      assert.equal(await human('get', 'endpoint', 'logs', id[2] ?? ''), await human('get', 'endpoint', 'logs', 'out'));
      // What vastai prints for `get endpt-logs` (its level 1 unless --level), never an empty line: no worker yet says so.
      assert.equal(await human('get', 'endpoint', 'logs', 'out'), 'No workers yet: their logs appear here once the autoscaler starts one.\n');
      assert.match(await human('get', 'endpoint', 'logs', 'out', '--level', '0'), /^No workers yet/);
      assert.equal(((await raw('get', 'endpoint', 'logs', 'out')) as { logs: string }).logs, '');
      const badLevel = await run('get', 'endpoint', 'logs', 'out', '--level', '4');
      assert.equal(badLevel.code, 1);
      assert.match(badLevel.stderr, /--level '4' is not 0, 1, 2 or 3/);
      // An endpoint named with digits only: no endpoint has that id, so the name is asked for.
      await human('create', 'deployment', '--name', '4242', '--image', 'local/worker', '--max_workers', '0');
      await human('get', 'endpoint', 'logs', '4242');
      // Vast's endpoint_state reads stopped at once; the line says stopping until the workers are (none here).
      assert.match(
        await human('stop', 'deployment', id[1] ?? ''),
        new RegExp(`^Deployment ${id[1]}: (stopped\\.|stopping; \`gantry show deployment ${id[1]}\` shows when it has stopped\\.)\n$`),
      );
      assert.equal(await human('start', 'deployment', id[1] ?? ''), `Deployment ${id[1]}: active.\n`);
      assert.match(await human('delete', 'deployment', id[1] ?? ''), /being deleted/);
    });
  });
}
