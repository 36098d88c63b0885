import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartProps {
  readonly title: string;
  /** uPlot's columns: x values (unix seconds) first, then one array per series. */
  readonly data: uPlot.AlignedData;
  readonly series: readonly uPlot.Series[];
  readonly height?: number;
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
    const u = new uPlot({ width: width(), height: p.height ?? 200, series: [{}, ...p.series], axes: [{}, {}], legend: { show: true } }, p.data, el);
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
