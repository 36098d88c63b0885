const { startPodman } = await import('./scripts/podman-harness.mjs');
const p = await startPodman();
const { startBenchGantry } = await import('/work/main/dist/bench/util.js');
const g = await startBenchGantry('/tmp/sp2-' + Date.now(), '2x RTX 4090:24GB', { observeIntervalMs: 1000, reconcileIdleMs: 250, runtime: 'docker', dockerHost: p.dockerHost });
const api = async (m, pa, b) => (await fetch(g.url + pa, { method: m, headers: { authorization: `Bearer ${g.adminKey}`, 'content-type': 'application/json' }, body: b && JSON.stringify(b) })).json();
let t0 = 0; const ev = [];
const mark = (what) => ev.push([what, (performance.now() - t0).toFixed(1)]);
g.store.changes.subscribe('instance', (c) => mark('feed instance ' + c.id));
g.store.changes.subscribe('instance-status', (c) => mark('feed status ' + c.id));
const rt = g.runtime;
for (const m of ['stop', 'inspect']) { const o = rt[m].bind(rt); rt[m] = async (...a) => { mark(m + ' begin'); const r = await o(...a); mark(m + ' end ' + r.state); return r; }; }
const origApply = g.store.applyObservation.bind(g.store);
g.store.applyObservation = async (...a) => { mark('apply ' + a[2]?.status); const r = await origApply(...a); mark('apply end'); return r; };
const machine = (await api('GET', '/api/v0/machines/')).machines[0].id;
for (let i = 0; i < 3; i++) {
  const c = await api('PUT', `/api/v0/asks/${machine * 1000 + 1}/`, { image: p.image, onstart: "trap 'exit 0' TERM; sleep 600 & wait", runtype: 'args' });
  const id = c.new_contract;
  while ((await api('GET', `/api/v0/instances/${id}/`)).instances.actual_status !== 'running') await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 300));
  ev.length = 0; t0 = performance.now();
  await api('PUT', `/api/v0/instances/${id}/`, { state: 'stopped' }); mark('PUT answered');
  while ((await api('GET', `/api/v0/instances/${id}/`)).instances.actual_status !== 'stopped') await new Promise((r) => setTimeout(r, 1));
  mark('status stopped read');
  console.log(ev.map(([w, t]) => `${t} ${w}`).join(' | '));
  await api('DELETE', `/api/v0/instances/${id}/`);
  await new Promise((r) => setTimeout(r, 1500));
}
await g.close(); await p.stop(); process.exit(0);
