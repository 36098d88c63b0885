import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { EdgeDeps } from '../../edge/dialect.js';
import { principal } from '../../edge/principal.js';
import { asObject, parseId } from './parse.js';

type Req = FastifyRequest<{ Params: Record<string, string> }>;

/**
 * Access to an instance beyond its SSH port (shown in its row): `execute` (Vast's constrained ls/du/rm, output
 * behind a result URL as logs are), `copy` (where the client's own rsync connects), `cancel copy`, and the
 * refused cloud copy and sync (docs/decisions/010-ssh-access.md).
 */
export function vastInstanceAccessRoutes(app: FastifyInstance, opts: EdgeDeps): void {
  const { control } = opts;

  app.put('/api/v0/instances/command/:id', async (req: Req) => {
    const { token } = await control.executeCommand(principal(req), parseId(req.params.id), asObject(req.body).command);
    // The newer `vastai` CLI cannot read Vast's answer: its API layer fetches the result URL and hands the CLI the
    // text, on which the CLI calls `.get("success")`. Only a dict without `success` or `result_url` reaches its
    // `print(rj)`, so that CLI (known by its User-Agent) gets the output inline. Everyone else gets Vast's shape.
    if (/^vastai-cli\//.test(req.headers['user-agent'] ?? '')) return { output: await control.fetchResult(token) };
    const base = (opts.publicUrl ?? `${req.protocol}://${req.host}`).replace(/\/$/, '');
    // The legacy CLI strips `writeable_path` from the output: commands run in the instance, so nothing to strip.
    return { success: true, result_url: `${base}/api/v0/results/${token}`, writeable_path: '' };
  });

  const copy = async (req: Req): Promise<Record<string, unknown>> => {
    const b = asObject(req.body);
    return { success: true, ...(await control.copyData(principal(req), { src: b.src_id, dst: b.dst_id, srcPath: b.src_path, dstPath: b.dst_path })) };
  };
  app.put('/api/v0/commands/rsync', copy);
  app.put('/api/v0/commands/copy_direct', copy);
  app.delete('/api/v0/commands/copy_direct', async (req: Req) => ({
    success: true,
    msg: await control.cancelCopies(principal(req), asObject(req.body).dst_id),
  }));
  app.post('/api/v0/commands/rclone', async (req: Req) => control.refuseCloudCopy(principal(req), asObject(req.body).instance_id));
  app.delete('/api/v0/commands/rclone', async (req: Req) => control.refuseCloudCopy(principal(req), asObject(req.body).dst_id));
}
