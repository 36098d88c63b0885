import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { vastPorts } from '../../src/api/dialects/vast/map.js';
import { parseEnv } from '../../src/domain/instance/env.js';

const at = (hostPort: number, containerPort: number, proto: 'tcp' | 'udp' = 'tcp') => ({ hostPort, containerPort, proto });
const bound = (...hostPorts: number[]) => hostPorts.map((p) => ({ HostIp: '0.0.0.0', HostPort: String(p) }));

describe("Vast's ports of an instance", () => {
  it('shows a port 22 the renter published after the SSH access (ssh-url reads the first)', () => {
    const ports = vastPorts({ sshPort: 45003, ports: [at(45000, 22), at(45001, 80), at(45002, 8080), at(45004, 53, 'udp')] });
    assert.deepEqual(ports, { '22/tcp': bound(45003, 45000), '80/tcp': bound(45001), '8080/tcp': bound(45002), '53/udp': bound(45004) });
  });

  it('without SSH access, port 22 is what was published', () => {
    assert.deepEqual(vastPorts({ sshPort: null, ports: [at(45000, 22)] }), { '22/tcp': bound(45000) });
    assert.deepEqual(vastPorts({ sshPort: null, ports: [] }), {});
  });

  it('one container port asked for twice (-p 80:80 -p 81:80) is one port published, and shown once', () => {
    // Host sides are not honoured (host ports come from the host's range, as on Vast): both ask for container port 80.
    assert.deepEqual(parseEnv('-p 80:80 -p 81:80').ports, [{ containerPort: 80, proto: 'tcp' }]);
  });
});
