import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientGroup } from '../../src/domain/client-group.js';

/** Per-client bounds counted each IPv6 address apart: one host, given a /64, could open any number of connections. */
describe('the client a per-client bound counts', () => {
  it('is the IPv4 address itself, IPv4-mapped ones included', () => {
    assert.equal(clientGroup('203.0.113.7'), '203.0.113.7');
    assert.equal(clientGroup('::ffff:203.0.113.7'), '203.0.113.7');
    assert.equal(clientGroup(undefined), 'unknown');
  });

  it("is an IPv6 address's /64, however the address is written", () => {
    const g = '2001:db8:0:1::/64';
    for (const ip of ['2001:db8:0:1::1', '2001:0db8:0000:0001:ffff:ffff:ffff:ffff', '2001:db8::1:0:0:0:9', '2001:DB8:0:1:a::', '2001:db8:0:1::1%eth0'])
      assert.equal(clientGroup(ip), g, ip);
    assert.notEqual(clientGroup('2001:db8:0:2::1'), g);
    assert.equal(clientGroup('::1'), '0:0:0:0::/64');
    assert.equal(clientGroup('fe80::1'), 'fe80:0:0:0::/64');
    assert.equal(clientGroup('::1.2.3.4'), '0:0:0:0::/64');
  });

  it('is as wide as ipv6ClientPrefixBits says: 128 is each address, 48 a site', () => {
    assert.equal(clientGroup('2001:db8:0:1::1', 128), '2001:db8:0:1:0:0:0:1');
    assert.equal(clientGroup('2001:db8:0:1::1%eth0', 128), '2001:db8:0:1:0:0:0:1');
    assert.notEqual(clientGroup('2001:db8:0:1::1', 128), clientGroup('2001:db8:0:1::2', 128));
    assert.equal(clientGroup('2001:db8:5:1::1', 48), '2001:db8:5::/48');
    assert.equal(clientGroup('2001:db8:5:ffff::1', 56), '2001:db8:5:ff00::/56');
    assert.equal(clientGroup('::ffff:203.0.113.7', 128), '203.0.113.7');
  });
});
