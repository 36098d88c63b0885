import { Vault } from '../../src/control/accounts/vault.js';

/** A fixed key for tests that build a control plane by hand. */
export function testVault(): Vault {
  return new Vault([{ id: 'test', key: Buffer.alloc(32, 7) }]);
}
