import pg from 'pg';

/**
 * Seeding for the fleet-scale bench (scale.ts): machines, running instances and their GPU allocations
 * written by PostgreSQL itself (INSERT ... SELECT over generate_series) into the store's own tables, so
 * 100,000 rows take a second instead of 100,000 round trips. Rows look like instances the reconciler
 * already carried out: target and status running, observed generation = generation, GPUs allocated.
 */
export const MACHINES = 10_000;
export const INSTANCES = 100_000;
/** Each machine has as many GPUs as it runs instances, one GPU each. */
export const PER_MACHINE = INSTANCES / MACHINES;

export interface Seeded {
  readonly firstMachineId: number;
  readonly ownerId: number;
}

/**
 * `processedAt`: last_processed_at of every instance (in the future: not due until the bench says so).
 * `hostKey(i)` in SQL is `'scale-host-' || i`, so a simulated agent says hello as machine i.
 */
export async function seedFleet(url: string, now: number, processedAt: number): Promise<Seeded> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const owner = await c.query<{ id: number }>('SELECT id FROM accounts WHERE is_admin = 1 ORDER BY id LIMIT 1');
    const ownerId = Number(owner.rows[0]?.id);
    await c.query('BEGIN');
    await c.query(
      `INSERT INTO machines (owner_id, host_key, hostname, gpu_name, num_gpus, gpu_ram_mb, gpu_declared, compute_cap, cpu_name, cpu_arch,
         cpu_cores, cpu_ram_mb, disk_space_gb, driver_version, cuda_max_good, verified, listed, price_gpu, price_disk, price_inetu,
         price_inetd, min_bid, min_chunk, public_ip, geolocation, reliability, inet_up, inet_down, port_range_start, port_range_end,
         os_version, runtime, last_seen_at, created_at)
       SELECT $1, 'scale-host-' || g, 'scale-' || g, 'RTX 4090', $2, 24000, 1, NULL, 'sim', 'amd64', 64, 256000, 4000, NULL, NULL, 1, 1,
         0.4, 0.1, 0, 0, 0.2, 1, '127.0.0.1', 'local', 1, 1000, 1000, 40000, 40999, 'sim', 'process', $3, $3
       FROM generate_series(0, $4 - 1) g`,
      [ownerId, PER_MACHINE, now, MACHINES],
    );
    const first = await c.query<{ id: number }>("SELECT min(id) AS id FROM machines WHERE host_key LIKE 'scale-host-%'");
    const firstMachineId = Number(first.rows[0]?.id);
    await c.query(
      `INSERT INTO instances (account_id, machine_id, num_gpus, gpu_indices, image, env_json, ports_json, onstart, entrypoint, args_json,
         runtype, label, disk_gb, offer_type, bid_price, dph_base, storage_cost, created_at, target, generation, pending_op, status,
         observed_generation, status_msg, exit_code, start_date, status_changed_at, last_processed_at, gpu_meter_since, disk_meter_since)
       SELECT $1, $2 + g / $3, 1, '[' || (g % $3) || ']', 'none', '{}', '[]', 'sleep infinity', NULL, NULL, 'ssh', NULL, 10, 'on-demand',
         NULL, 0.4, 0.1, $4, 'running', 1, NULL, 'running', 1, NULL, NULL, $4, $4, $5, $4, $4
       FROM generate_series(0, $6 - 1) g`,
      [ownerId, firstMachineId, PER_MACHINE, now, processedAt, INSTANCES],
    );
    await c.query(
      `INSERT INTO gpu_allocations (machine_id, gpu_index, instance_id)
       SELECT machine_id, (gpu_indices::json->>0)::int, id FROM instances WHERE machine_id >= $1`,
      [firstMachineId],
    );
    await c.query('COMMIT');
    await c.query('ANALYZE');
    return { firstMachineId, ownerId };
  } finally {
    await c.end();
  }
}

/** A plain SQL client for the bench's own reads and stamps (not the control plane's). */
export async function withClient<T>(url: string, f: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await f(c);
  } finally {
    await c.end();
  }
}
