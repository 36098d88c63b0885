import type uPlot from 'uplot';
import { api } from '../api.js';

/** What `GET /console/api/series` answers. */
export interface SeriesAnswer {
  readonly name: string;
  readonly subject: number;
  readonly step_s: number;
  readonly points: readonly [number, number][];
}

export async function fetchSeries(name: string, subject: number | null, sinceS: number): Promise<SeriesAnswer> {
  const q = new URLSearchParams({ name, since: String(Math.floor(sinceS)) });
  if (subject !== null) q.set('subject', String(subject));
  return api<SeriesAnswer>('GET', `/console/api/series?${q.toString()}`);
}

/** Several series on one time axis, as uPlot wants them: the union of their times, null where one has no point. */
export function align(series: readonly (readonly [number, number][])[]): uPlot.AlignedData {
  const xs = [...new Set(series.flatMap((s) => s.map(([t]) => t)))].sort((a, b) => a - b);
  const ys = series.map((s) => {
    const at = new Map(s);
    return xs.map((t) => at.get(t) ?? null);
  });
  return [xs, ...ys] as uPlot.AlignedData;
}
