import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartProps {
  readonly title: string;
  /** uPlot's columns: x values (unix seconds) first, then one array per series. */
  readonly data: uPlot.AlignedData;
  readonly series: readonly uPlot.Series[];
  readonly height?: number;
  /** How the y axis writes its values (default uPlot's, which rounds amounts under a cent to 0). */
  readonly yValue?: (v: number) => string;
}

/**
 * A thin uPlot wrapper: one plot per mount, fed new data in place, resized with its box. The figure
 * is labelled by its title for screen readers (the plot itself is a canvas).
 */
export function Chart(p: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    const el = box.current;
    if (el === null) return;
    const width = (): number => Math.max(200, el.clientWidth);
    const u = new uPlot(
      { width: width(), height: p.height ?? 200, series: [{}, ...p.series], axes: [{}, yAxis(p.yValue)], legend: { show: true } },
      p.data,
      el,
    );
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: width(), height: p.height ?? 200 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
    // The series are fixed for a mount; data changes are fed below.
  }, []);
  useEffect(() => plot.current?.setData(p.data), [p.data]);
  return (
    <figure class="chart">
      <figcaption>{p.title}</figcaption>
      <div ref={box} role="img" aria-label={p.title} />
    </figure>
  );
}

/** The y axis: uPlot's own, or one that writes each tick with `format`. */
function yAxis(format: ((v: number) => string) | undefined): uPlot.Axis {
  return format === undefined ? {} : { values: (_u, splits) => splits.map(format), size: 70 };
}
