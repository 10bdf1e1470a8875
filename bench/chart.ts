// The promotion latency distributions as an SVG next to RESULTS.md: one cumulative curve per
// registry size, kind of change and webhook setting, on a logarithmic time axis.
import type { SizeResult } from "./report";

const WIDTH = 840;
const HEIGHT = 420;
const MARGIN = { left: 60, right: 270, top: 30, bottom: 50 };
const COLOURS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"];

export function latencyChart(sizes: SizeResult[]): string {
  const series = sizes.flatMap((size) =>
    size.promotionRuns.flatMap((run) =>
      (["stage", "alias"] as const).map((kind) => ({
        label: `${size.models} models, ${kind}, ${run.webhooks ? "webhooks" : "no webhooks"}`,
        seconds: run.latencies
          .filter((l) => l.kind === kind)
          .map((l) => Math.max(l.ms / 1000, 0.01))
          .sort((a, b) => a - b),
      })),
    ),
  );
  const all = series.flatMap((s) => s.seconds);
  const [low, high] = [0.01, Math.max(1, ...all) * 1.2];
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (s: number) => MARGIN.left + (Math.log10(s / low) / Math.log10(high / low)) * plotWidth;
  const y = (fraction: number) => MARGIN.top + (1 - fraction) * plotHeight;
  const ticks = [0.01, 0.1, 0.3, 1, 2, 10, 30, 100, 300, 1000].filter((t) => t <= high);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${MARGIN.left}" y="18" font-size="14">Promotion latency (cumulative share of promotions served)</text>`,
    ...ticks.map(
      (t) =>
        `<line x1="${x(t)}" x2="${x(t)}" y1="${MARGIN.top}" y2="${MARGIN.top + plotHeight}" stroke="#ddd"/><text x="${x(t)}" y="${MARGIN.top + plotHeight + 16}" text-anchor="middle">${t} s</text>`,
    ),
    ...[0, 0.5, 0.95, 1].map(
      (f) =>
        `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${y(f)}" y2="${y(f)}" stroke="#ddd"/><text x="${MARGIN.left - 6}" y="${y(f) + 4}" text-anchor="end">${f * 100}%</text>`,
    ),
    `<text x="${MARGIN.left + plotWidth / 2}" y="${HEIGHT - 12}" text-anchor="middle">seconds from the change in MLflow to the object serving it (log scale)</text>`,
  ];
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const points = s.seconds.flatMap((sec, k) => [
      `${x(sec).toFixed(1)},${y(k / s.seconds.length).toFixed(1)}`,
      `${x(sec).toFixed(1)},${y((k + 1) / s.seconds.length).toFixed(1)}`,
    ]);
    if (points.length > 0)
      parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${points.join(" ")}"/>`);
    const legendY = MARGIN.top + 14 + i * 18;
    parts.push(
      `<line x1="${WIDTH - MARGIN.right + 12}" x2="${WIDTH - MARGIN.right + 32}" y1="${legendY - 4}" y2="${legendY - 4}" stroke="${colour}" stroke-width="2"/>`,
      `<text x="${WIDTH - MARGIN.right + 38}" y="${legendY}">${s.label}</text>`,
    );
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
