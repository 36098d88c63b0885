import { GantryError } from '../../domain/errors.js';
import { FLEET_SUBJECT, type SeriesName } from '../../domain/series.js';
import type { ControlContext } from '../context.js';
import { authorize, type Principal } from '../principal.js';
import { ownEndpoint } from '../serverless/endpoints.js';

/** Points one chart may ask for: a day of 10 s buckets is 8,640. */
export const MAX_POINTS = 10_000;

export interface SeriesRequest {
  readonly name: SeriesName;
  /** Null: the series' default subject (the caller's account for spend, the fleet or the caller's machines for GPU utilisation). */
  readonly subject: number | null;
  /** Epoch ms. */
  readonly since: number;
}

export interface SeriesPoints {
  readonly name: SeriesName;
  readonly subject: number;
  readonly stepMs: number;
  /** [bucket start ms, value], oldest first, at most MAX_POINTS (the newest). */
  readonly points: readonly [number, number][];
}

const notFound = (what: string, id: number): GantryError =>
  new GantryError('SERIES_NOT_FOUND', `No ${what} with id ${id} whose series this key may read.`, { subject: id });

/**
 * A series for a chart, when the caller may read its subject: spend of its own account (billing.read;
 * an admin any account's); GPU utilisation of a machine it owns (machine.read; the fleet, subject 0, for
 * an admin); requests per second and queue depth of its own endpoints (serverless.read).
 */
export async function readSeries(ctx: ControlContext, p: Principal, r: SeriesRequest): Promise<SeriesPoints> {
  const subject = await allowedSubject(ctx, p, r);
  const points = await ctx.store.readSamples(r.name, subject, r.since, MAX_POINTS);
  return { name: r.name, subject, stepMs: ctx.settings.samplerIntervalMs, points };
}

async function allowedSubject(ctx: ControlContext, p: Principal, r: SeriesRequest): Promise<number> {
  switch (r.name) {
    case 'spend': {
      authorize(p, 'billing.read');
      const id = r.subject ?? p.accountId;
      if (id !== p.accountId && !p.isAdmin) throw notFound('account', id);
      return id;
    }
    case 'gpu_util': {
      authorize(p, 'machine.read');
      const id = r.subject ?? FLEET_SUBJECT;
      if (p.isAdmin) return id;
      const m = id === FLEET_SUBJECT ? undefined : await ctx.store.getMachine(id, ctx.clock.now());
      if (m === undefined || m.ownerId !== p.accountId) throw notFound('machine', id);
      return id;
    }
    case 'rps':
    case 'queue': {
      if (r.subject === null) throw new GantryError('INVALID_ARGUMENT', `Series '${r.name}' needs subject: an endpoint id.`, { field: 'subject' });
      try {
        return (await ownEndpoint(ctx, p, r.subject, 'serverless.read')).id;
      } catch (err) {
        if (err instanceof GantryError && err.kind === 'not_found') throw notFound('endpoint', r.subject);
        throw err;
      }
    }
  }
}
