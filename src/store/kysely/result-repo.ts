import { Repo } from './repo.js';

/** Short-lived results fetched by token without auth (log downloads, `execute` output). */
export class ResultRepo extends Repo {
  async putResult(token: string, content: string, expiresAt: number): Promise<void> {
    await this.db.insertInto('results').values({ token, content, expires_at: expiresAt }).execute();
  }

  async getResult(token: string, now: number): Promise<string | undefined> {
    const row = await this.db.selectFrom('results').select('content').where('token', '=', token).where('expires_at', '>', now).executeTakeFirst();
    return row?.content;
  }

  async purgeResults(now: number): Promise<void> {
    await this.db.deleteFrom('results').where('expires_at', '<=', now).execute();
  }
}
