// bench/RESULTS.md: the generated tables go between two markers; the text around them (the
// analysis written by people) is kept when the benchmark runs again.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { format, resolveConfig } from "prettier";
import { repoRoot } from "../test/support/testbed-env";
import type { CycleFigures } from "./service-process";
import type { SoakResult } from "./soak";
import { median, percentile, spread } from "./stats";

export interface SizeResult {
  models: number;
  served: number;
  cold: CycleFigures[];
  noop: CycleFigures[];
  /** Peak RSS of each fresh process (one cold cycle, two no-op cycles). */
  peakRssBytes: number[];
  /** Peak RSS of the process serving the promotions (minutes at the default interval). */
  promotionPeakRssBytes?: number;
  promotionMs: number[];
  promotionIntervalSeconds: number;
  /** The first cycle of a new process on the synchronised cluster (as `sync --once` runs). */
  freshNoop?: CycleFigures;
  soak?: SoakResult;
}

export interface BenchResults {
  date: string;
  pageSize: number;
  repetitions: number;
  versions: Record<string, string>;
  sizes: SizeResult[];
  preview: {
    deployments: number;
    up: number;
    previews: number[];
    previewMlflowRequests: number[];
    upWithoutCheckpoints: number;
  }[];
  benchSeconds: number;
}

const START = "<!-- results:start (written by npm run bench) -->";
const END = "<!-- results:end -->";

function cycleTable(title: string, sizes: SizeResult[], pick: (s: SizeResult) => CycleFigures[]): string[] {
  const rows = sizes.map((s) => {
    const f = pick(s);
    const col = (get: (c: CycleFigures) => number, digits: number) => spread(f.map(get), digits);
    return `| ${s.models} | ${s.served} | ${col((c) => c.wallSeconds, 2)} | ${col((c) => c.cpuSeconds, 2)} | ${col((c) => c.mlflowRequests, 0)} | ${col((c) => c.kubeRequests, 0)} | ${col((c) => c.kubeWrites, 0)} | ${f.length} |`;
  });
  return [
    `### ${title}`,
    "",
    "| Models | SeldonDeployments | Wall s | CPU s | MLflow requests | Kubernetes requests | Writes | Cycles |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows,
    "",
  ];
}

export function renderResults(r: BenchResults): string {
  const mib = (bytes: number) => bytes / 1024 / 1024;
  const lines = [
    START,
    `Run ${r.date} on ${cpus().length} × ${cpus()[0]?.model.trim() ?? "unknown CPU"}, ${Math.round(totalmem() / 2 ** 30)} GiB;`,
    `${Object.entries(r.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}. MLflow page size ${r.pageSize}; ${r.repetitions} cold repetitions per size; the`,
    `whole benchmark took ${Math.round(r.benchSeconds / 60)} min. Figures are median (min–max); requests and writes`,
    "are read from the service's /metrics after each cycle.",
    "",
    ...cycleTable("Full cycle from cold (empty namespace, fresh process)", r.sizes, (s) => s.cold),
    ...cycleTable("No-op cycle (nothing changed)", r.sizes, (s) => s.noop),
    ...cycleTable(
      "No-op first cycle of a new process (synchronised cluster; what `sync --once` does)",
      r.sizes.filter((s) => s.freshNoop),
      (s) => [s.freshNoop!],
    ),
    "### Promotion latency and memory",
    "",
    "| Models | Interval s | Promotions | p50 s | p95 s | max s | Peak RSS MiB, cold runs | Peak RSS MiB, at the interval |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...r.sizes.map((s) => {
      const seconds = (p: number) =>
        s.promotionMs.length ? (percentile(s.promotionMs, p) / 1000).toFixed(2) : "—";
      const atInterval = s.promotionPeakRssBytes ? mib(s.promotionPeakRssBytes).toFixed(0) : "—";
      return `| ${s.models} | ${s.promotionIntervalSeconds} | ${s.promotionMs.length} | ${seconds(50)} | ${seconds(95)} | ${seconds(100)} | ${spread(s.peakRssBytes.map(mib), 0)} | ${atInterval} |`;
    }),
    "",
  ];
  if (r.preview.length > 0) {
    lines.push(
      "### `pulumi up` and `pulumi preview`",
      "",
      "A repository stack whose snapshot holds N model deployments (plus the service's own resources),",
      "plain CLI from the repository root, the whole command (Node.js start, TypeScript program, registry",
      "snapshot, CLI, dynamic and Kubernetes providers): the first `pulumi up`, then no-change previews.",
      "",
      "| Model deployments | `pulumi up` (s) | `pulumi up` with `PULUMI_SKIP_CHECKPOINTS=true` (s) | no-change `pulumi preview` (s) | MLflow requests per no-change preview |",
      "|---|---|---|---|---|",
      ...r.preview.map(
        (p) =>
          `| ${p.deployments} | ${p.up.toFixed(1)} | ${p.upWithoutCheckpoints.toFixed(1)} | ${spread(p.previews, 1)} | ${spread(p.previewMlflowRequests, 0)} |`,
      ),
      "",
    );
  }
  for (const s of r.sizes.filter((size) => size.soak)) {
    const soak = s.soak!;
    lines.push(
      `### Soak: ${soak.cycles} cycles back to back at ${s.models} models (${Math.round(soak.seconds / 60)} min)`,
      "",
      "One service process on the synchronised cluster, interval 0.01 s, sampled from its /metrics.",
      `Node.js warnings printed (a listener leak prints MaxListenersExceededWarning): ${soak.warnings.length}.`,
      "",
      "| Cycle | Heap used MiB | RSS MiB | Active handles |",
      "|---:|---:|---:|---:|",
      ...soak.samples.map(
        (x) =>
          `| ${x.cycle} | ${mib(x.heapUsedBytes).toFixed(1)} | ${mib(x.rssBytes).toFixed(0)} | ${x.activeHandles} |`,
      ),
      "",
    );
  }
  const largest = r.sizes.at(-1);
  if (largest) {
    const noop = largest.noop;
    lines.push(
      `### Targets at ${largest.models} models`,
      "",
      "| Target | Measured |",
      "|---|---|",
      `| No-op cycle writes 0 | ${Math.max(...noop.map((c) => c.kubeWrites))} |`,
      `| MLflow requests ≈ ceil(models / page size) + small constant | ${median(noop.map((c) => c.mlflowRequests))} (ceil = ${Math.ceil(largest.models / r.pageSize)}) |`,
      `| One Kubernetes LIST per namespace | ${median(noop.map((c) => c.kubeRequests))} request(s) |`,
      `| No-op cycle under 2 s of CPU | ${median(noop.map((c) => c.cpuSeconds)).toFixed(2)} s |`,
      `| RSS under 150 MB | ${(Math.max(...largest.peakRssBytes, largest.promotionPeakRssBytes ?? 0) / 1e6).toFixed(0)} MB peak |`,
      `| Promotion p50 within one interval + 200 ms | ${largest.promotionMs.length ? (percentile(largest.promotionMs, 50) / 1000).toFixed(2) : "—"} s (limit ${(largest.promotionIntervalSeconds + 0.2).toFixed(1)} s) |`,
      "",
    );
  }
  lines.push(END);
  return lines.join("\n");
}

/** Replaces the generated block of RESULTS.md, keeping everything around it, formatted as `npm run lint` wants. */
export async function writeResults(file: string, results: BenchResults): Promise<string> {
  const block = renderResults(results);
  const current = existsSync(file) ? readFileSync(file, "utf8") : `# Benchmark results\n\n${START}\n${END}\n`;
  const start = current.indexOf(START);
  const end = current.indexOf(END);
  const next =
    start >= 0 && end > start
      ? `${current.slice(0, start)}${block}${current.slice(end + END.length)}`
      : `${current.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, await format(next, { ...(await resolveConfig(file)), filepath: file }));
  return block;
}

export const resultsFile = join(repoRoot, "bench", "RESULTS.md");
