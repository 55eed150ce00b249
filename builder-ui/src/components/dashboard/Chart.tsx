import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const HEIGHT = 180;

export interface ChartSeries { label: string; color: string; values: (number | null)[]; bars?: boolean; points?: boolean }

/** A time-series chart (uPlot): x is hours (epoch seconds), one line or bar series each. */
export function Chart({ title, hours, series, yMax, testId }: { title: string; hours: number[]; series: ChartSeries[]; yMax?: number; testId: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const barCount = series.filter((s) => s.bars).length;
    let bar = 0;
    const opts: uPlot.Options = {
      width: Math.max(el.clientWidth, 320),
      height: HEIGHT,
      series: [{}, ...series.map((s) => ({
        label: s.label, stroke: s.color, fill: s.bars ? s.color + '99' : undefined, width: s.bars ? 1 : 2,
        // Bar series side by side within each hour; points for lines whose hours may stand alone.
        paths: s.bars ? uPlot.paths.bars?.({ size: [0.9 / barCount, 10], align: barCount > 1 ? (bar++ === 0 ? -1 : 1) : 0 }) : undefined,
        points: { show: !!s.points, size: 6 }, spanGaps: false,
      }))],
      // Half an hour of room on each side, so the first and last hours' bars are whole.
      scales: { x: { time: true, range: (_u, min, max) => [min - 1800, max + 1800] }, y: yMax === undefined ? {} : { range: [0, yMax] } },
      axes: [{}, { size: 50 }],
      legend: { live: false },
    };
    const plot = new uPlot(opts, [hours, ...series.map((s) => s.values)], el);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(el.clientWidth, 320), height: HEIGHT }));
    resize.observe(el);
    return () => { resize.disconnect(); plot.destroy(); };
  }, [hours, series, yMax]);
  return (
    <figure className="chart" data-testid={testId}>
      <figcaption>{title}</figcaption>
      <div ref={box} />
    </figure>
  );
}
