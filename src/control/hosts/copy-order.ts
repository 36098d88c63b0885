import type { CopyPath } from '../../domain/instance/copy-path.js';

/**
 * A copy between two instances as the control plane orders it from the source's agent
 * (docs/decisions/011-instance-copy.md). The agent streams a tar of the source path, read inside the source
 * instance, into a tar that unpacks inside the destination: on its own host directly, on another host over
 * the destination's SSH access with a one-time key that host granted for this copy.
 */
export interface CopyOrder {
  readonly src: { readonly instanceId: number; readonly path: CopyPath };
  readonly dst: { readonly instanceId: number; readonly path: CopyPath };
  /** The destination is on another machine: where its SSH access listens and the grant to log in with. null: this host. */
  readonly via: ({ readonly host: string; readonly port: number } & CopyGrant) | null;
  /** The copy is ended after this long (`copyTimeoutMs`). */
  readonly timeoutMs: number;
}

/** What the destination's agent hands out for one copy into one of its instances. */
export interface CopyGrant {
  /** A fresh private key (OpenSSH form) its SSH access accepts once, for this instance, for copying in only. */
  readonly privateKey: string;
  /** The host's SSH public key (base64 of the wire form), so the source knows it reached the right host. */
  readonly hostKey: string;
}

export interface CopyReport {
  /** Bytes of the tar stream carried. */
  readonly bytes: number;
}
