import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GantryError } from '../../../domain/errors.js';
import type { EdgeDeps } from '../../edge/dialect.js';
import { principal } from '../../edge/principal.js';

/** A word the shell reads as itself; anything else is single-quoted. */
const PLAIN = /^[A-Za-z0-9_./:@%+=,-]+$/;
const shellWord = (w: string): string => (PLAIN.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);

/**
 * The `gantry agent` command line that joins a machine with this token (the flags are the CLI's own:
 * src/cli/agent-command.ts), as argv and as one shell line to copy.
 */
export function agentCommand(serverUrl: string, token: string): { argv: string[]; line: string } {
  const argv = ['npx', 'gantry', 'agent', '--server', serverUrl, '--token', token];
  return { argv, line: argv.map(shellWord).join(' ') };
}

/**
 * `POST /console/api/host_tokens`: a fresh host token with the exact command a new host runs. The
 * Vast dialect's `POST /api/v0/host_tokens` makes the token too; only the control plane knows the
 * URL agents reach it by (the publicUrl setting, else the one this request came in on).
 */
export function consoleHostRoutes(app: FastifyInstance, deps: EdgeDeps): void {
  app.post('/console/api/host_tokens', async (req: FastifyRequest) => {
    const p = principal(req);
    const body = req.body ?? {};
    if (typeof body !== 'object' || Array.isArray(body)) throw new GantryError('INVALID_ARGUMENT', 'The body must be a JSON object.');
    const name = (body as Record<string, unknown>).name;
    if (name !== undefined && name !== null && typeof name !== 'string')
      throw new GantryError('INVALID_ARGUMENT', "'name' must be a string.", { field: 'name' });
    const { token, record } = await deps.control.createHostToken(p, typeof name === 'string' && name !== '' ? name : null);
    const server = (deps.publicUrl ?? `${req.protocol}://${req.host}`).replace(/\/$/, '');
    const command = agentCommand(server, token);
    return { id: record.id, name: record.name, token, server, command: command.line, argv: command.argv };
  });
}
