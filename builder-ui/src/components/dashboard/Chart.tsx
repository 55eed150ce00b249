import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries { label: string; color: string; values: (number | null)[]; bars?: boolean }

/** A time-series chart (uPlot): x is hours (epoch seconds), one line or bar series each. */
export function Chart({ title, hours, series, yMax, testId }: { title: string; hours: number[]; series: ChartSeries[]; yMax?: number; testId: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const bars = uPlot.paths.bars?.({ size: [0.8, 12] });
    const opts: uPlot.Options = {
      width: Math.max(el.clientWidth, 320),
      height: 220,
      series: [{}, ...series.map((s) => ({
        label: s.label, stroke: s.color, fill: s.bars ? s.color + '99' : undefined, width: s.bars ? 1 : 2,
        paths: s.bars ? bars : undefined, points: { show: false }, spanGaps: false,
      }))],
      scales: { y: yMax === undefined ? {} : { range: [0, yMax] } },
      axes: [{}, { size: 50 }],
      legend: { live: false },
    };
    const plot = new uPlot(opts, [hours, ...series.map((s) => s.values)], el);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(el.clientWidth, 320), height: 220 }));
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
