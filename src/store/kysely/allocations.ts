import type { Kysely, Transaction } from 'kysely';
import { GantryError } from '../../domain/errors.js';
import type { StoreDialect } from '../dialects/store-dialect.js';
import type { NewInstance } from '../store.js';
import type { Database } from './schema.js';
import type { PortBinding } from '../../domain/instance/instance.js';

/** GPU and port ownership: primary keys make double booking impossible, whatever the replica count. */
export type Db = Kysely<Database> | Transaction<Database>;

export async function insertGpus(
  d: StoreDialect,
  trx: Db,
  machineId: number,
  instanceId: number,
  gpus: readonly number[],
  code: 'OFFER_UNAVAILABLE' | 'GPUS_UNAVAILABLE',
): Promise<void> {
  const held = new Set((await trx.selectFrom('gpu_allocations').select('gpu_index').where('instance_id', '=', instanceId).execute()).map((r) => r.gpu_index));
  const wanted = gpus.filter((g) => !held.has(g));
  if (wanted.length === 0) return;
  // A stopped instance asks for the same GPUs again: its machine may have come back with fewer (a host
  // registered again with another inventory); running on a GPU that is not there would bill it all the same.
  const m = await trx.selectFrom('machines').select('num_gpus').where('id', '=', machineId).executeTakeFirst();
  const gone = wanted.filter((g) => m === undefined || g >= m.num_gpus);
  if (gone.length > 0)
    throw new GantryError(
      code,
      `GPU ${gone.join(',')} of machine ${machineId} is no longer there (it has ${m?.num_gpus ?? 0} GPUs now); the instance stays stopped.`,
      {
        machineId,
        gpus: [...gpus],
      },
    );
  try {
    await trx
      .insertInto('gpu_allocations')
      .values(wanted.map((g) => ({ machine_id: machineId, gpu_index: g, instance_id: instanceId })))
      .execute();
  } catch (err) {
    if (!d.isUniqueViolation(err)) throw err;
    const msg =
      code === 'OFFER_UNAVAILABLE'
        ? `The GPUs of this offer on machine ${machineId} were just rented by someone else; search offers again.`
        : `GPU ${gpus.join(',')} on machine ${machineId} is rented by another instance now; the instance stays stopped until they are free.`;
    throw new GantryError(code, msg, { machineId, gpus: [...gpus] }, { cause: err });
  }
}

export async function allocatePorts(
  d: StoreDialect,
  trx: Db,
  machine: { id: number; port_range_start: number; port_range_end: number },
  instanceId: number,
  n: NewInstance,
): Promise<void> {
  const used = new Set((await trx.selectFrom('port_allocations').select('host_port').where('machine_id', '=', machine.id).execute()).map((r) => r.host_port));
  const workload: { containerPort: number; proto: string }[] = n.requestedPorts.length > 0 ? [...n.requestedPorts] : [{ containerPort: 0, proto: 'tcp' }];
  // The SSH port is the agent's, not the workload's: proto `ssh` keeps it out of `ports` (env, published ports).
  const wanted = n.sshPort === true ? [...workload, { containerPort: 22, proto: 'ssh' }] : workload;
  const rows: { machine_id: number; host_port: number; instance_id: number; container_port: number; proto: string }[] = [];
  for (let p = machine.port_range_start; p <= machine.port_range_end && rows.length < wanted.length; p++) {
    if (used.has(p) || n.busyPorts?.has(p) === true) continue;
    const spec = wanted[rows.length];
    if (spec === undefined) break;
    // No mapping asked for: the workload gets one port and listens on it directly ($PORT).
    rows.push({
      machine_id: machine.id,
      host_port: p,
      instance_id: instanceId,
      container_port: spec.containerPort === 0 ? p : spec.containerPort,
      proto: spec.proto,
    });
  }
  if (rows.length < wanted.length)
    throw new GantryError('PORTS_EXHAUSTED', `Machine ${machine.id} has no free port left in ${machine.port_range_start}-${machine.port_range_end}.`, {
      machineId: machine.id,
    });
  try {
    await trx.insertInto('port_allocations').values(rows).execute();
  } catch (err) {
    if (d.isUniqueViolation(err))
      throw new GantryError('OFFER_UNAVAILABLE', 'Ports on this machine were just taken by another rental; try again.', {}, { cause: err });
    throw err;
  }
}

/** A port row as stored: a workload binding, or the instance's SSH port (proto `ssh`). */
export type StoredPort = PortBinding | { readonly hostPort: number; readonly containerPort: number; readonly proto: 'ssh' };

export async function portsOf(db: Db, ids: readonly number[]): Promise<Map<number, StoredPort[]>> {
  const out = new Map<number, StoredPort[]>();
  if (ids.length === 0) return out;
  const rows = await db.selectFrom('port_allocations').selectAll().where('instance_id', 'in', ids).orderBy('host_port').execute();
  for (const r of rows) {
    const list = out.get(r.instance_id) ?? [];
    list.push({ hostPort: r.host_port, containerPort: r.container_port, proto: r.proto === 'udp' ? 'udp' : r.proto === 'ssh' ? 'ssh' : 'tcp' });
    out.set(r.instance_id, list);
  }
  return out;
}

/** The account's SSH keys, attached to a new instance in its create transaction (before its first start). */
export async function attachAccountSshKeys(trx: Db, instanceId: number, accountId: number): Promise<void> {
  const keys = await trx.selectFrom('ssh_keys').select('id').where('account_id', '=', accountId).where('deleted_at', 'is', null).execute();
  if (keys.length > 0)
    await trx
      .insertInto('instance_ssh_keys')
      .values(keys.map((k) => ({ instance_id: instanceId, ssh_key_id: k.id })))
      .execute();
}
