import { GantryError } from '../../domain/errors.js';
import type { ControlContext } from '../context.js';
import { authorizeInstance, authorize, type Principal } from '../principal.js';
import { ACTION_SCOPES } from '../../domain/account/actions.js';
import { allows } from '../../domain/account/permissions.js';
import type { InstanceRecord } from '../../domain/instance/instance.js';
import type { SshKeyRecord } from '../../domain/account/records.js';
import { sshPublicKeyProblem } from '../../domain/account/ssh-public-key.js';

function checkKey(raw: unknown): string {
  const key = typeof raw === 'string' ? raw.trim() : '';
  if (key === '') throw new GantryError('SSH_KEY_MISSING', 'No ssh key provided.', { field: 'ssh_key' });
  const problem = key.length > 16_384 ? 'it is longer than 16,384 characters' : sshPublicKeyProblem(key);
  if (problem !== null) {
    throw new GantryError('INVALID_SSH_KEY', `ssh_key must be one OpenSSH public key line, such as the contents of ~/.ssh/id_ed25519.pub: ${problem}.`, {
      field: 'ssh_key',
    });
  }
  return key;
}

/**
 * A key added to the account, within maxSshKeysPerAccount: every change writes all of an account's keys into
 * each of its instances, so their count bounds what each write costs (16 KiB a key at most).
 */
async function newAccountKey(ctx: ControlContext, accountId: number, text: string): Promise<SshKeyRecord> {
  return ctx.store.createSshKey(accountId, text, ctx.clock.now(), ctx.settings.maxSshKeysPerAccount);
}

const notFound = (id: number): GantryError => new GantryError('SSH_KEY_NOT_FOUND', `No SSH key with id ${id}.`, { sshKeyId: id });

/**
 * Write the instances' keys now (authorized_keys on the disk, and the logins the host's SSH access
 * takes). Their host's session may be held by another replica: the change is published, and the
 * replica that holds it writes them (`followSshKeys`). A stopped instance gets them at its next start
 * (the spec carries the keys).
 */
async function push(ctx: ControlContext, instanceIds: readonly number[]): Promise<void> {
  for (const id of instanceIds) if (!(await pushHere(ctx, id))) ctx.store.changes.publish('ssh-keys', id);
}

/** Per replica (its host registry), the write of each instance's keys in progress: writes of one instance run in turn. */
const writing = new WeakMap<object, Map<number, Promise<boolean>>>();

/**
 * Write one instance's keys when this replica holds its host's session: true once written (or nothing to
 * write), false when it does not hold the session or the write failed (an agent that moved to another
 * replica leaves a link here a while): the caller then publishes the change for the others. Writes of
 * one instance run one after the other, each reading the keys as they are when it begins, so an older
 * set never lands after a newer one.
 */
function pushHere(ctx: ControlContext, id: number): Promise<boolean> {
  let chains = writing.get(ctx.hosts);
  if (chains === undefined) writing.set(ctx.hosts, (chains = new Map<number, Promise<boolean>>()));
  const write = async (): Promise<boolean> => {
    const inst = await ctx.store.getInstance(id);
    if (!inst || inst.status === 'destroyed') return true;
    const link = ctx.hosts.get(inst.machineId);
    if (!link) return false;
    const keys = (await ctx.store.instanceSshKeys(id)).map((k) => k.publicKey);
    return link.setSshKeys(id, keys).then(
      () => true,
      (err: unknown) => {
        ctx.log.warn({ instanceId: id, err }, 'could not write authorized_keys through this replica; another may, else the next start writes it');
        return false;
      },
    );
  };
  const next = (chains.get(id) ?? Promise.resolve(true)).then(write, write);
  chains.set(id, next);
  const done = (): void => void (chains.get(id) === next && chains.delete(id));
  next.then(done, done);
  return next;
}

/** Write the keys of every instance that should run on a machine whose session this replica holds (an agent said hello). */
export async function syncSshKeys(ctx: ControlContext, machineId: number): Promise<void> {
  for (const id of await ctx.store.liveInstanceIds(machineId)) await pushHere(ctx, id);
}

/**
 * Keys changed at another replica reach the hosts whose sessions this one holds; a lost notification
 * (`id: null`, the feed reconnected) writes the keys of every instance on those hosts again.
 */
export function followSshKeys(ctx: ControlContext): () => void {
  const fail = (err: unknown): void => ctx.log.warn({ err }, 'writing SSH keys heard from another replica failed');
  return ctx.store.changes.subscribe('ssh-keys', (c) => {
    if (c.id !== null) void pushHere(ctx, c.id).catch(fail);
    else for (const m of ctx.hosts.machineIds()) void syncSshKeys(ctx, m).catch(fail);
  });
}

/**
 * Whether the caller may put keys into this instance: what attaching a key to it asks (`instance_write`
 * for it). An account key (`user_write`) is a setting for the instances created later; it is no way into
 * the running ones for a key that may not change them.
 */
function mayWriteKeys(p: Principal, instanceId: number): boolean {
  return p.scope !== 'instance' && allows(p.scopes, ACTION_SCOPES['instance.manage'], { kind: 'instance', id: instanceId });
}

/** Vast adds a new account key to every current instance of the account: here, to those the caller may change. */
export async function createSshKey(ctx: ControlContext, p: Principal, raw: unknown): Promise<SshKeyRecord> {
  authorize(p, 'account.write');
  const key = await newAccountKey(ctx, p.accountId, checkKey(raw));
  const live = (await ctx.store.listInstances({ accountId: p.accountId })).filter((i) => mayWriteKeys(p, i.id));
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
  authorize(p, 'account.write', { kind: 'ssh_key', id });
  const text = checkKey(raw);
  // A new text for a key that instances hold is a new key in each of them. Another account's key is
  // NOT_FOUND below: this refusal must not tell its caller where that key is.
  const barred = (await ctx.store.sshKeyHolders(id)).find((i) => !mayWriteKeys(p, i));
  if (barred !== undefined && (await ctx.store.getSshKey(id))?.accountId === p.accountId)
    throw new GantryError(
      'FORBIDDEN',
      `SSH key ${id} is in instance ${barred}, and this API key may not change that instance (instance_write): a new text for the key would be a new key there.`,
      { sshKeyId: id, instanceId: barred },
    );
  const attached = await ctx.store.updateSshKey(id, p.accountId, text);
  if (attached === null) throw notFound(id);
  await push(ctx, attached);
  return ownKey(ctx, p, id);
}

export async function deleteSshKey(ctx: ControlContext, p: Principal, id: number): Promise<void> {
  authorize(p, 'account.write', { kind: 'ssh_key', id });
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
  const key = (await ctx.store.listSshKeys(p.accountId)).find((k) => k.publicKey === text) ?? (await newAccountKey(ctx, p.accountId, text));
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
