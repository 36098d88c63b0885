import ssh2 from 'ssh2';

/**
 * A fresh ed25519 key pair in OpenSSH format that ssh2 itself can read back. ssh2's generator strips
 * leading zero bytes from the public key, so about one pair in 256 is malformed (mscdex/ssh2#1513):
 * such a pair is thrown away and another made.
 */
export function ed25519Pair(): { readonly private: string; readonly public: string } {
  for (let i = 0; i < 32; i++) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519');
    if (!(ssh2.utils.parseKey(pair.public) instanceof Error) && !(ssh2.utils.parseKey(pair.private) instanceof Error)) return pair;
  }
  throw new Error('could not make a readable ed25519 key pair');
}
