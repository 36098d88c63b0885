import type { FastifyInstance } from 'fastify';
import { readSeries } from '../../../control/console/series.js';
import { isSeriesName, SERIES_NAMES } from '../../../domain/series.js';
import type { EdgeDeps } from '../../edge/dialect.js';
import { principal } from '../../edge/principal.js';
import { invalid, nonNegative, onlyFields, wholeNumber } from './input.js';

/** Without `since`, the last hour. */
const DEFAULT_SPAN_S = 3600;

/**
 * `GET /console/api/series?name=spend|gpu_util|rps|queue&subject=<id>&since=<unix s>`: a chart's
 * points, `[t (unix s), value]` oldest first, at most MAX_POINTS (the newest).
 */
export function consoleSeriesRoutes(app: FastifyInstance, deps: EdgeDeps): void {
  app.get('/console/api/series', async (req) => {
    const q = onlyFields(req.query, ['name', 'subject', 'since'], 'query');
    if (!isSeriesName(q.name)) throw invalid('name', `'name' must be one of ${SERIES_NAMES.join(', ')}.`);
    const ctx = deps.control.ctx;
    const sinceS = q.since === undefined ? ctx.clock.now() / 1000 - DEFAULT_SPAN_S : nonNegative(q.since, 'since');
    const s = await readSeries(ctx, principal(req), {
      name: q.name,
      subject: q.subject === undefined ? null : wholeNumber(q.subject, 'subject'),
      since: Math.floor(sinceS * 1000),
    });
    return { name: s.name, subject: s.subject, step_s: s.stepMs / 1000, points: s.points.map(([t, v]) => [t / 1000, v]) };
  });
}
