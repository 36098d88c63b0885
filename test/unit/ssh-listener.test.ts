import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openTestSshAccess } from '../helpers/ssh-access.js';
import ssh2 from 'ssh2';
import { type SshAccess } from '../../src/agent/ssh-access.js';
import { ed25519Pair } from '../../src/agent/ssh-keygen.js';
import type { WorkloadSpec } from '../../src/runtime/runtime.js';
import { reservePortBlock } from '../helpers/ports.js';

/** `p`'s value, or 'pending' when it has not settled within `ms`. */
const within = <T>(p: Promise<T>, ms: number): Promise<T | 'pending'> =>
  Promise.race([p, new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms).unref())]);

/**
 * Resolves once the listener's side of `s` is gone, not only ended: after its end arrived, a write is answered
 * with a reset (a half-closed socket there would take it). Never, while the listener keeps the connection.
 */
async function cut(s: Socket): Promise<void> {
  if (!s.readableEnded) await once(s, 'end');
  const closed = new Promise((resolve) => s.once('close', resolve)); // a reset is an error, then a close
  const poke = setInterval(() => s.write('x'), 20);
  await closed.finally(() => clearInterval(poke));
}

/** A TCP connection to the port, once connected; it never closes its side by itself. */
async function idle(port: number, greeting?: string): Promise<Socket> {
  const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  s.on('error', () => undefined);
  s.resume();
  await once(s, 'connect');
  if (greeting !== undefined) s.write(greeting);
  return s;
}

/**
 * An instance's SSH listener never waits on a peer: a connection that sends nothing, or one that greeted and
 * then keeps its side open (a client gone silent), held the instance's stop (and the agent's) until the peer
 * closed, which a sleeping laptop's connection does only when the kernel gives up on it.
 */
describe("an instance's SSH port and connections that do not go", () => {
  let dir: string;
  let ports: { start: number; release(): void };
  let access: SshAccess;
  let id = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gantry-ssh-listener-'));
    ports = reservePortBlock();
    access = await openAccess(dir, { loginGraceMs: 300 });
  });
  after(async () => {
    await access.close();
    ports.release();
    await rm(dir, { recursive: true, force: true });
  });
  const start = async (): Promise<{ instanceId: number; port: number }> => {
    id++;
    const port = ports.start + id;
    await access.starting({ instanceId: id, sshPort: port, sshKeys: [], env: {} } as unknown as WorkloadSpec);
    return { instanceId: id, port };
  };

  for (const [what, greeting] of [
    ['one that sent nothing', undefined],
    ['one that greeted and keeps its side open', 'SSH-2.0-OpenSSH_9.2\r\n'],
  ] as const) {
    it(`a stop ends at once beside ${what}, and cuts it`, async () => {
      const { instanceId, port } = await start();
      const s = await idle(port, greeting);
      const gone = cut(s);
      assert.notEqual(await within(access.stopped(instanceId), 5_000), 'pending', 'the stop waited on the connection');
      assert.notEqual(await within(gone, 5_000), 'pending', 'the connection was cut');
    });
  }

  it('cuts a connection that has not logged in within the grace', async () => {
    const { instanceId, port } = await start();
    const s = await idle(port, 'SSH-2.0-OpenSSH_9.2\r\n');
    assert.notEqual(await within(cut(s), 5_000), 'pending', 'cut after sshLoginGraceMs (300 ms here)');
    await access.stopped(instanceId);
  });

  it('ten connections not logged in from one address at most: one more from it is cut, one from elsewhere logs in', async () => {
    const other = await mkdtemp(join(tmpdir(), 'gantry-ssh-listener-'));
    const pair = ed25519Pair();
    // A grace shorter than the wait below: a client that logged in is not cut when the grace of its login ends.
    const patient = await openAccess(other, { loginGraceMs: 3_000 });
    const port = ports.start + 90;
    const sockets: Socket[] = [];
    let client: ssh2.Client | null = null;
    try {
      await patient.starting({ instanceId: 1, sshPort: port, sshKeys: [pair.public], env: {} } as unknown as WorkloadSpec);
      for (let i = 0; i < 10; i++) sockets.push(await idle(port));
      const eleventh = await idle(port);
      assert.notEqual(await within(cut(eleventh), 5_000), 'pending', 'the eleventh from 127.0.0.1 is cut');
      assert.equal(
        sockets.every((s) => !s.readableEnded && !s.destroyed),
        true,
        'the first ten are kept (until their grace)',
      );
      client = await loggedIn(port, pair.private, '127.0.0.2');
      let closed = false;
      client.once('close', () => (closed = true));
      await new Promise((r) => setTimeout(r, 3_500));
      assert.equal(closed, false, 'logged in, it outlives the login grace');
    } finally {
      client?.end();
      for (const s of sockets) s.destroy();
      await patient.close();
      await rm(other, { recursive: true, force: true });
    }
  });
});

describe('an SSH client that stops answering', () => {
  it('is cut after three unanswered keepalives, though it never closes its side', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gantry-ssh-listener-'));
    const ports = reservePortBlock();
    const pair = ed25519Pair();
    const access = await openAccess(dir, { loginGraceMs: 60_000, keepaliveMs: 200 });
    // A relay between the client and the agent that can go silent both ways (a network cut, a laptop asleep).
    let silent = false;
    const toAgent: Socket[] = [];
    const relay = createServer((from) => {
      const to = connect({ port: ports.start, host: '127.0.0.1', allowHalfOpen: true }); // it never closes its side: the agent must
      toAgent.push(to);
      for (const [a, b] of [
        [from, to],
        [to, from],
      ] as const) {
        a.on('data', (d: Buffer) => silent || b.write(d));
        a.on('error', () => undefined);
      }
    });
    await new Promise<void>((r) => relay.listen(ports.start + 1, '127.0.0.1', r));
    let client: ssh2.Client | null = null;
    try {
      await access.starting({ instanceId: 1, sshPort: ports.start, sshKeys: [pair.public], env: {} } as unknown as WorkloadSpec);
      client = await loggedIn(ports.start + 1, pair.private, '127.0.0.1');
      client.on('error', () => undefined);
      const agentSide = toAgent[0]!;
      silent = true;
      assert.notEqual(await within(cut(agentSide), 10_000), 'pending', 'the agent cut the connection');
    } finally {
      client?.destroy();
      for (const s of toAgent) s.destroy();
      relay.close();
      await access.close();
      ports.release();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** SSH access for the tests' own listeners, with the login grace and keepalives each test needs. */
const openAccess = (dataDir: string, o: { loginGraceMs: number; keepaliveMs?: number }): Promise<SshAccess> =>
  openTestSshAccess(dataDir, { loginGraceMs: o.loginGraceMs, keepaliveMs: o.keepaliveMs ?? 60_000 });

/** A client logged in with `privateKey` from `localAddress` (another loopback address is another caller). */
function loggedIn(port: number, privateKey: string, localAddress: string): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.once('error', reject);
    c.once('ready', () => resolve(c));
    c.connect({ host: '127.0.0.1', port, localAddress, username: 'root', privateKey, readyTimeout: 20_000 });
  });
}
