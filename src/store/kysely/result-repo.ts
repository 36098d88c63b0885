import { Repo } from './repo.js';
import { transact } from './tx.js';
import type { HostCall } from '../store.js';

/** Short-lived results fetched by token without auth (log downloads, `execute` output). */
export class ResultRepo extends Repo {
  async putResult(token: string, content: string, expiresAt: number): Promise<void> {
    await this.db.insertInto('results').values({ token, content, expires_at: expiresAt }).execute();
  }

  async getResult(token: string, now: number): Promise<string | undefined> {
    const row = await this.db.selectFrom('results').select('content').where('token', '=', token).where('expires_at', '>', now).executeTakeFirst();
    return row?.content;
  }

  async ownResult(token: string, accountId: number, keep: number): Promise<void> {
    await transact(this.db, async (trx) => {
      await trx.updateTable('results').set({ account_id: accountId }).where('token', '=', token).execute();
      if (keep <= 0) return;
      // The one just owned always stays (results of one moment tie on their expiry, and replicas' clocks differ).
      const kept = trx
        .selectFrom('results')
        .select('token')
        .where('account_id', '=', accountId)
        .where('token', '!=', token)
        .orderBy('expires_at', 'desc')
        .orderBy('token')
        .limit(keep - 1);
      await trx.deleteFrom('results').where('account_id', '=', accountId).where('token', '!=', token).where('token', 'not in', kept).execute();
    });
  }

  async purgeResults(now: number): Promise<void> {
    await this.db.deleteFrom('results').where('expires_at', '<=', now).execute();
    await this.db.deleteFrom('host_calls').where('expires_at', '<=', now).execute();
  }

  async requestHostCall(c: HostCall): Promise<void> {
    await this.db.insertInto('host_calls').values({ token: c.token, machine_id: c.machineId, op: c.op, args: c.args, expires_at: c.expiresAt }).execute();
  }

  async takeHostCalls(machineIds: readonly number[], now: number): Promise<HostCall[]> {
    if (machineIds.length === 0) return [];
    // One DELETE … RETURNING: two replicas that both think they hold a host never take the same call.
    const rows = await this.db.deleteFrom('host_calls').where('machine_id', 'in', machineIds).returningAll().execute();
    return rows
      .filter((r) => Number(r.expires_at) > now)
      .map((r) => ({ token: r.token, machineId: r.machine_id, op: r.op, args: r.args, expiresAt: Number(r.expires_at) }));
  }

  async takeResult(tokens: readonly string[], now: number): Promise<{ token: string; content: string } | undefined> {
    if (tokens.length === 0) return undefined;
    const rows = await this.db.deleteFrom('results').where('token', 'in', tokens).returning(['token', 'content', 'expires_at']).execute();
    const live = rows.filter((r) => Number(r.expires_at) > now).sort((a, b) => tokens.indexOf(a.token) - tokens.indexOf(b.token));
    return live[0] === undefined ? undefined : { token: live[0].token, content: live[0].content };
  }

  async withdrawHostCall(token: string): Promise<boolean> {
    const r = await this.db.deleteFrom('host_calls').where('token', '=', token).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}
