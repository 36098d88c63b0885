import type { PageProps } from '../routes.js';
import { may } from '../session.js';
import { ApiKeys } from './account/api-keys.js';
import { AuditLog } from './account/audit.js';
import { Billing } from './account/billing.js';
import { Secrets } from './account/secrets.js';
import { SshKeys } from './account/ssh-keys.js';

/**
 * The account: API keys, SSH keys, secrets, charges and invoices, the audit log. Each section shows
 * only when the key may read it, and its changes only when the key may make them (the server
 * authorizes every call anyway).
 */
export function AccountPage({ session }: PageProps) {
  const read = may(session, 'account.read');
  const write = may(session, 'account.write');
  const billing = may(session, 'billing.read');
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">Account</h1>
      <p class="muted">
        {session.account.username} (account {session.account.id})
      </p>
      {read && <ApiKeys session={session} canWrite={write} />}
      {read && <SshKeys canWrite={write} />}
      {read && <Secrets canWrite={write} />}
      {billing && <Billing accountId={session.account.id} />}
      {read && <AuditLog />}
      {!read && !billing && <p>This key may read neither the account nor its billing.</p>}
    </section>
  );
}
