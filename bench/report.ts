// bench/RESULTS.md: the generated tables go between two markers; the text around them (the
// analysis written by people) is kept when the benchmark runs again.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { format, resolveConfig } from "prettier";
import { repoRoot } from "../test/support/testbed-env";
import type { CycleFigures } from "./service-process";
import type { SoakResult } from "./soak";
import type { PromotionLatency } from "./promotion";
import { median, percentile, spread } from "./stats";

export interface SizeResult {
  models: number;
  served: number;
  cold: CycleFigures[];
  noop: CycleFigures[];
  /** Peak RSS of each fresh process (one cold cycle, two no-op cycles). */
  peakRssBytes: number[];
  /** The service at its defaults, without then with MLflow webhooks. */
  promotionRuns: PromotionRun[];
  /** The first cycle of a new process on the synchronised cluster (as `sync --once` runs). */
  freshNoop?: CycleFigures;
  soak?: SoakResult;
}

export interface PromotionRun {
  webhooks: boolean;
  latencies: PromotionLatency[];
  /** The delay the service chose between full reads (paced by their cost). */
  fullReadSeconds: number;
  /** MLflow requests per second over a quiet minute after the promotions. */
  steadyMlflowRequestsPerSecond: number;
  /** Hand edits of replicas until the watch's repair shows (measured in one run). */
  repairMs?: number[];
  /** Peak RSS of the process over the run (minutes). */
  peakRssBytes: number;
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
    "### Promotion latency, MLflow load and memory",
    "",
    "The service at its defaults: a delta poll every second, full reads paced by their cost. Stage",
    "transitions arrive through the poll; alias moves (which bump nothing a poll sees on MLflow's SQL",
    "store) through a webhook delivery, or without webhooks at the next full read. MLflow load is",
    "read over a quiet minute after the promotions. The bench's MLflow server refreshes its webhook",
    "list every second (MLFLOW_WEBHOOK_CACHE_TTL=1, default 60).",
    "",
    "| Models | Webhooks | Full reads every s | Kind | Promotions | p50 s | p95 s | max s | MLflow requests/s, steady | Peak RSS MiB |",
    "|---:|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ...r.sizes.flatMap((s) =>
      s.promotionRuns.flatMap((run) =>
        (["stage", "alias"] as const).map((kind) => {
          const ms = run.latencies.filter((l) => l.kind === kind).map((l) => l.ms);
          const seconds = (p: number) => (ms.length ? (percentile(ms, p) / 1000).toFixed(2) : "—");
          return `| ${s.models} | ${run.webhooks ? "yes" : "no"} | ${run.fullReadSeconds.toFixed(0)} | ${kind} | ${ms.length} | ${seconds(50)} | ${seconds(95)} | ${seconds(100)} | ${run.steadyMlflowRequestsPerSecond.toFixed(2)} | ${mib(run.peakRssBytes).toFixed(0)} |`;
        }),
      ),
    ),
    "",
    "Latency distributions: [promotion-latency.svg](promotion-latency.svg).",
    "",
    "### Hand edits repaired",
    "",
    "Replicas of objects changed by hand (a replace, as `kubectl edit` does) at random moments; the",
    "time runs until the watch shows the object back as the engine wants it.",
    "",
    "| Models | Edits | p50 s | p95 s | max s |",
    "|---:|---:|---:|---:|---:|",
    ...r.sizes.flatMap((s) =>
      s.promotionRuns
        .filter((run) => run.repairMs?.length)
        .map((run) => {
          const ms = run.repairMs!;
          const seconds = (p: number) => (percentile(ms, p) / 1000).toFixed(2);
          return `| ${s.models} | ${ms.length} | ${seconds(50)} | ${seconds(95)} | ${seconds(100)} |`;
        }),
    ),
    "",
    "### Memory of the cold runs",
    "",
    "| Models | Peak RSS MiB (cold cycle and two no-op cycles) |",
    "|---:|---:|",
    ...r.sizes.map((s) => `| ${s.models} | ${spread(s.peakRssBytes.map(mib), 0)} |`),
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
      `| RSS under 150 MB | ${(Math.max(...largest.peakRssBytes, ...largest.promotionRuns.map((p) => p.peakRssBytes)) / 1e6).toFixed(0)} MB peak |`,
      ...promotionTargets(largest),
      "",
    );
  }
  lines.push(END);
  return lines.join("\n");
}

function promotionTargets(size: SizeResult): string[] {
  const run = (webhooks: boolean) => size.promotionRuns.find((p) => p.webhooks === webhooks);
  const latency = (webhooks: boolean, kind: "stage" | "alias", p: number) => {
    const ms =
      run(webhooks)
        ?.latencies.filter((l) => l.kind === kind)
        .map((l) => l.ms) ?? [];
    return ms.length ? (percentile(ms, p) / 1000).toFixed(2) : "—";
  };
  const without = run(false);
  if (!without) return [];
  return [
    `| Stage transition p50 ≤ 1 s, p95 ≤ 2 s | ${latency(false, "stage", 50)} s, ${latency(false, "stage", 95)} s |`,
    `| Alias move with webhooks p50 ≤ 0.3 s | ${latency(true, "alias", 50)} s |`,
    `| Alias move without webhooks within the full-read period | max ${latency(false, "alias", 100)} s (period ${without.fullReadSeconds.toFixed(0)} s) |`,
    `| Steady MLflow load ≤ 1.5 requests/s | ${without.steadyMlflowRequestsPerSecond.toFixed(2)} |`,
    `| Hand edit repaired p50 ≤ 2 s | ${without.repairMs?.length ? (percentile(without.repairMs, 50) / 1000).toFixed(2) : "—"} s |`,
  ];
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
