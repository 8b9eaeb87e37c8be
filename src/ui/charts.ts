/**
 * Charts, drawn by uPlot (a time-series chart library of ~50 KB that draws on canvas: fast with a year of
 * days and thousands of sparklines). Stacked bars are uPlot bars over cumulative sums; the legend and tooltips
 * show each series' own value.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export const COLOURS = ['#2e7d32', '#c62828', '#1565c0', '#ef6c00', '#6a1b9a', '#00838f', '#ad1457', '#5d4037', '#546e7a', '#9e9d24'];

/** "YYYY-MM-DD" -> seconds since the epoch at 00:00 UTC (uPlot's x). */
export function dayToSeconds(day: string): number {
  return Date.parse(`${day}T00:00:00Z`) / 1000;
}

export interface StackSeries {
  label: string;
  values: number[];
  colour?: string;
}

/** Stacked daily bars: `days` on x, one series per `series`, bottom first. */
export function stackedBars(
  target: HTMLElement,
  days: string[],
  series: StackSeries[],
  opts: { width: number; height: number; title?: string },
): uPlot {
  const xs = days.map(dayToSeconds);
  const cumulative: number[][] = [];
  series.forEach((s, i) => cumulative.push(s.values.map((v, j) => v + (i > 0 ? cumulative[i - 1]![j]! : 0))));
  // Drawn top of the stack first, so each lower part is painted over the one above it.
  const order = series.map((_, i) => i).reverse();
  const bars = uPlot.paths.bars!({ size: [0.8, 40], align: 0 });
  return new uPlot(
    {
      title: opts.title,
      width: opts.width,
      height: opts.height,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      cursor: { points: { show: false } },
      scales: { x: { time: true } },
      axes: [{}, { size: 60, values: (_u, vals) => vals.map((v) => (v >= 1000 ? `${v / 1000}k` : String(v))) }],
      series: [
        { label: 'day', value: (_u, v) => (v === null ? '–' : new Date(v * 1000).toISOString().slice(0, 10)) },
        ...order.map((i) => {
          const s = series[i]!;
          const colour = s.colour ?? COLOURS[i % COLOURS.length]!;
          return {
            label: s.label,
            stroke: colour,
            fill: colour,
            paths: bars,
            points: { show: false },
            value: (_u: uPlot, _v: number | null, _si: number, idx: number | null) =>
              idx === null ? '–' : (s.values[idx] ?? 0).toLocaleString('en'),
          };
        }),
      ],
    },
    [xs, ...order.map((i) => cumulative[i]!)],
    target,
  );
}

/** A small chart for a table row: successful (green) and failed (red) sessions per day, without axes. */
export function sparkline(target: HTMLElement, daily: Array<[string, number, number]>, from: string, until: string): uPlot {
  const days: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t < Date.parse(`${until}T00:00:00Z`); t += 86_400_000)
    days.push(new Date(t).toISOString().slice(0, 10));
  const byDay = new Map(daily.map(([d, ok, failed]) => [d, [ok, failed] as const]));
  const ok = days.map((d) => byDay.get(d)?.[0] ?? 0);
  const failed = days.map((d) => byDay.get(d)?.[1] ?? 0);
  const bars = uPlot.paths.bars!({ size: [0.9, 10], align: 0 });
  return new uPlot(
    {
      width: 140,
      height: 30,
      legend: { show: false },
      cursor: { show: false },
      axes: [{ show: false }, { show: false }],
      scales: { x: { time: false } },
      series: [
        {},
        { stroke: COLOURS[0], fill: COLOURS[0], paths: bars, points: { show: false } },
        { stroke: COLOURS[1], fill: COLOURS[1], paths: bars, points: { show: false } },
      ],
    },
    [days.map((_, i) => i), ok.map((v, i) => v + failed[i]!), failed],
    target,
  );
}
