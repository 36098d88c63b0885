import { GantryError } from '../../domain/errors.js';
import type { ControlContext } from '../context.js';
import { authorizeInstance, authorize, type Principal } from '../principal.js';
import type { InstanceRecord } from '../../domain/instance/instance.js';
import type { SshKeyRecord } from '../../domain/account/records.js';

const PUBLIC_KEY = /^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\n\r]*)?$/;

function checkKey(raw: unknown): string {
  const key = typeof raw === 'string' ? raw.trim() : '';
  if (key === '') throw new GantryError('SSH_KEY_MISSING', 'No ssh key provided.', { field: 'ssh_key' });
  if (key.length > 16_384 || !PUBLIC_KEY.test(key)) {
    throw new GantryError('INVALID_SSH_KEY', 'ssh_key must be one OpenSSH public key line, such as the contents of ~/.ssh/id_ed25519.pub.', {
      field: 'ssh_key',
    });
  }
  return key;
}

const notFound = (id: number): GantryError => new GantryError('SSH_KEY_NOT_FOUND', `No SSH key with id ${id}.`, { sshKeyId: id });

/**
 * Rewrite authorized_keys on the instance's disk now, when its host is reachable from this replica;
 * otherwise the next start writes it (the spec carries the keys).
 */
async function push(ctx: ControlContext, instanceIds: readonly number[]): Promise<void> {
  for (const id of instanceIds) {
    const inst = await ctx.store.getInstance(id);
    const link = inst && inst.status !== 'destroyed' ? ctx.hosts.get(inst.machineId) : undefined;
    if (!inst || !link) continue;
    const keys = (await ctx.store.instanceSshKeys(id)).map((k) => k.publicKey);
    await link
      .setSshKeys(id, keys)
      .catch((err: unknown) => ctx.log.warn({ instanceId: id, err }, 'could not write authorized_keys now; the next start writes it'));
  }
}

/** Vast adds a new account key to every current instance of the account. */
export async function createSshKey(ctx: ControlContext, p: Principal, raw: unknown): Promise<SshKeyRecord> {
  authorize(p, 'account.write');
  const key = await ctx.store.createSshKey(p.accountId, checkKey(raw), ctx.clock.now());
  const live = await ctx.store.listInstances({ accountId: p.accountId });
  for (const i of live) await ctx.store.attachSshKey(i.id, key.id);
  await push(
    ctx,
    live.map((i) => i.id),
  );
  return key;
}

export async function listSshKeys(ctx: ControlContext, p: Principal): Promise<SshKeyRecord[]> {
  authorize(p, 'account.read');
  return ctx.store.listSshKeys(p.accountId);
}

async function ownKey(ctx: ControlContext, p: Principal, id: number): Promise<SshKeyRecord> {
  const k = await ctx.store.getSshKey(id);
  if (!k || k.accountId !== p.accountId) throw notFound(id);
  return k;
}

export async function updateSshKey(ctx: ControlContext, p: Principal, id: number, raw: unknown): Promise<SshKeyRecord> {
  authorize(p, 'account.write', id);
  const attached = await ctx.store.updateSshKey(id, p.accountId, checkKey(raw));
  if (attached === null) throw notFound(id);
  await push(ctx, attached);
  return ownKey(ctx, p, id);
}

export async function deleteSshKey(ctx: ControlContext, p: Principal, id: number): Promise<void> {
  authorize(p, 'account.write', id);
  const detached = await ctx.store.deleteSshKey(id, p.accountId, ctx.clock.now());
  if (detached === null) throw notFound(id);
  await push(ctx, detached);
}

async function instanceFor(ctx: ControlContext, p: Principal, instanceId: number, action: 'instance.ssh-keys' | 'instance.manage'): Promise<InstanceRecord> {
  return authorizeInstance(p, await ctx.store.getInstance(instanceId), instanceId, action);
}

/** Attach a key given as text (Vast's `ssh_key`): one of the account's keys, or a new one added to the account. */
export async function attachSshKey(ctx: ControlContext, p: Principal, instanceId: number, raw: unknown): Promise<SshKeyRecord> {
  const inst = await instanceFor(ctx, p, instanceId, 'instance.manage');
  const text = checkKey(raw);
  const key =
    (await ctx.store.listSshKeys(p.accountId)).find((k) => k.publicKey === text) ?? (await ctx.store.createSshKey(p.accountId, text, ctx.clock.now()));
  await ctx.store.attachSshKey(inst.id, key.id);
  await push(ctx, [inst.id]);
  return key;
}

export async function detachSshKey(ctx: ControlContext, p: Principal, instanceId: number, keyId: number): Promise<void> {
  const inst = await instanceFor(ctx, p, instanceId, 'instance.manage');
  if (!(await ctx.store.detachSshKey(inst.id, keyId))) throw notFound(keyId);
  await push(ctx, [inst.id]);
}

export async function instanceSshKeys(ctx: ControlContext, p: Principal, instanceId: number): Promise<SshKeyRecord[]> {
  const inst = await instanceFor(ctx, p, instanceId, 'instance.ssh-keys');
  return ctx.store.instanceSshKeys(inst.id);
}
