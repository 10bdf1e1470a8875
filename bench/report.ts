// bench/RESULTS.md: the generated tables go between two markers; the text around them (the
// analysis written by people) is kept when the benchmark runs again.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { format, resolveConfig } from "prettier";
import { repoRoot } from "../test/support/testbed-env";
import type { CycleFigures } from "./service-process";
import type { CommandFigures, PulumiLifecycle } from "./pulumi-lifecycle";
import type { SoakResult } from "./soak";
import type { PromotionLatency } from "./promotion";
import { median, percentile, spread } from "./stats";
import { LIST_PAGE_SIZE } from "../engine/apply/store";

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
  /** The image run as its Deployment runs it (one cold cycle, two no-op cycles). */
  container?: ContainerRun;
}

export interface ContainerRun {
  cold: CycleFigures;
  noop: CycleFigures[];
  /** Peak RSS of the container's Node.js process. */
  peakRssBytes: number;
  /** High-water mark of the container's memory cgroup (page cache included). */
  cgroupPeakBytes: number;
  memoryLimitBytes: number;
  cpuLimit: number;
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
  /** The registry's store: each has its own block. */
  store: "sqlite" | "postgresql";
  date: string;
  pageSize: number;
  repetitions: number;
  versions: Record<string, string>;
  sizes: SizeResult[];
  benchSeconds: number;
}

/** A generated block of RESULTS.md: the whole benchmark writes each, `--only` some of them. */
interface Block {
  start: string;
  end: string;
}
const RESULTS: Record<BenchResults["store"], Block> = {
  sqlite: {
    start: "<!-- results:start (written by npm run bench) -->",
    end: "<!-- results:end -->",
  },
  postgresql: {
    start: "<!-- results-postgresql:start (written by npm run bench -- --store postgresql) -->",
    end: "<!-- results-postgresql:end -->",
  },
};
const PULUMI: Block = {
  start: "<!-- pulumi:start (written by npm run bench) -->",
  end: "<!-- pulumi:end -->",
};
const CONTAINER: Block = {
  start: "<!-- container:start (written by npm run bench) -->",
  end: "<!-- container:end -->",
};

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

const mib = (bytes: number) => bytes / 2 ** 20;

export function renderResults(r: BenchResults): string {
  const lines = [
    RESULTS[r.store].start,
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
    "store) through a webhook delivery, or without webhooks through the rolling read (1,000 models every",
    "5 s, in turn: every model within models / 1,000 × 5 s). MLflow load is",
    "read over a quiet minute after the promotions. The bench's MLflow server refreshes its webhook",
    "list every second (MLFLOW_WEBHOOK_CACHE_TTL=1, default 60); the bench registers the webhook as",
    "MLflow's admin and gives the service its secret only.",
    ...(r.store === "postgresql"
      ? [
          "The service reads as a user with MLflow's default READ over TLS (basic-auth app), as in production.",
        ]
      : []),
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
    ...(r.store === "sqlite"
      ? ["Latency distributions: [promotion-latency.svg](promotion-latency.svg).", ""]
      : []),
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
      `| Kubernetes requests: one LIST page per ${LIST_PAGE_SIZE} served objects | ${median(noop.map((c) => c.kubeRequests))} (ceil = ${Math.ceil(largest.served / LIST_PAGE_SIZE)}) |`,
      `| No-op cycle under 2 s of CPU | ${median(noop.map((c) => c.cpuSeconds)).toFixed(2)} s |`,
      `| RSS under 150 MB | ${(Math.max(...largest.peakRssBytes, ...largest.promotionRuns.map((p) => p.peakRssBytes)) / 1e6).toFixed(0)} MB peak |`,
      ...promotionTargets(largest),
      "",
    );
  }
  lines.push(RESULTS[r.store].end);
  return lines.join("\n");
}

export function renderPulumiLifecycles(date: string, pulumiVersion: string, runs: PulumiLifecycle[]): string {
  const s = (f: CommandFigures) => f.seconds.toFixed(1);
  const cpu = ({ cpuSeconds: c }: CommandFigures) =>
    [c.cli, c.program, c["dynamic provider"], c["kubernetes provider"]].map((x) => x.toFixed(0)).join(" / ");
  const peak = (r: PulumiLifecycle) =>
    Math.max(...[r.firstPreview, r.up, ...r.previews, r.promotionUp, r.destroy].map((f) => f.peakRssBytes));
  return [
    PULUMI.start,
    `Run ${date}, Pulumi ${pulumiVersion}, local (file://) backend, default checkpointing. A repository`,
    "stack snapshotting a whole registry (`stackModels` `*`) whose models serve N model deployments",
    "(plus the service's own resources), the plain CLI",
    "from the repository root; each figure is the whole command (Node.js start, TypeScript program,",
    "registry snapshot, CLI, dynamic and Kubernetes providers). Peak memory is the highest sum of the",
    "resident memory of the command's processes. State bytes: `pulumi stack export` after the up as",
    "compact JSON, the form the local backend writes after every step.",
    "",
    "| Model deployments | first `preview` s | first `up` s | CPU s of the first `up`: CLI / program / dynamic provider / Kubernetes provider | no-change `preview` s | MLflow requests per no-change preview | `up` of one promotion s | `destroy` s | peak memory MiB (`up`; any command) | state bytes per deployment (compact JSON) | ModelDeploymentGroups; KB of the largest |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...runs.map(
      (r) =>
        `| ${r.deployments} | ${s(r.firstPreview)} | ${s(r.up)} | ${cpu(r.up)} | ${spread(
          r.previews.map((p) => p.seconds),
          1,
        )} | ${spread(r.previewMlflowRequests, 0)} | ${s(r.promotionUp)} | ${s(r.destroy)} | ${mib(r.up.peakRssBytes).toFixed(0)}; ${mib(peak(r)).toFixed(0)} | ${r.stateBytesPerDeployment.toFixed(0)} | ${r.groups.count}; ${(r.groups.largestBytes / 1024).toFixed(0)} |`,
    ),
    "",
    PULUMI.end,
  ].join("\n");
}

export async function writePulumiLifecycles(
  file: string,
  date: string,
  pulumiVersion: string,
  runs: PulumiLifecycle[],
): Promise<string> {
  const block = renderPulumiLifecycles(date, pulumiVersion, runs);
  await writeBlock(file, PULUMI, block);
  return block;
}

export function renderContainerMemory(date: string, sizes: SizeResult[]): string {
  const runs = sizes.filter((s) => s.container);
  const limits = runs[0]?.container;
  return [
    CONTAINER.start,
    `Run ${date}. The image \`make image\` builds, run by podman (runc) as its Deployment runs it: its user,`,
    "its ENTRYPOINT's V8 flags, a read-only root filesystem, no capabilities, and the SyncService",
    `component's default limits${limits ? ` (${mib(limits.memoryLimitBytes).toFixed(0)} MiB, ${limits.cpuLimit} CPU)` : ""}; a cold cycle into an empty`,
    "namespace, then two no-op cycles. The container's memory is its cgroup's high-water mark, which",
    "counts the page cache of the files it read besides the process.",
    "",
    "| Models | Served objects | Cold cycle wall s | No-op cycle wall s | Peak RSS MiB (node) | Container memory peak MiB | Limit MiB |",
    "|---:|---:|---:|---:|---:|---:|---:|",
    ...runs.map((s) => {
      const c = s.container!;
      return `| ${s.models} | ${s.served} | ${c.cold.wallSeconds.toFixed(2)} | ${spread(
        c.noop.map((n) => n.wallSeconds),
        2,
      )} | ${mib(c.peakRssBytes).toFixed(0)} | ${mib(c.cgroupPeakBytes).toFixed(0)} | ${mib(c.memoryLimitBytes).toFixed(0)} |`;
    }),
    "",
    CONTAINER.end,
  ].join("\n");
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
    `| Alias move without webhooks within the rolling read's round (models / 1,000 × 5 s) | max ${latency(false, "alias", 100)} s (round ${Math.ceil(size.models / 1000) * 5} s) |`,
    `| Steady MLflow load ≤ 1.5 requests/s | ${without.steadyMlflowRequestsPerSecond.toFixed(2)} |`,
    `| Hand edit repaired p50 ≤ 2 s | ${without.repairMs?.length ? (percentile(without.repairMs, 50) / 1000).toFixed(2) : "—"} s |`,
  ];
}

/** Replaces one generated block of RESULTS.md, keeping everything around it, formatted as `npm run lint` wants. */
async function writeBlock(file: string, markers: Block, block: string): Promise<void> {
  const current = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmark results\n";
  const start = current.indexOf(markers.start);
  const end = current.indexOf(markers.end);
  const next =
    start >= 0 && end > start
      ? `${current.slice(0, start)}${block}${current.slice(end + markers.end.length)}`
      : `${current.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, await format(next, { ...(await resolveConfig(file)), filepath: file }));
}

export async function writeResults(file: string, results: BenchResults): Promise<string> {
  const block = renderResults(results);
  await writeBlock(file, RESULTS[results.store], block);
  return block;
}

export async function writeContainerMemory(file: string, date: string, sizes: SizeResult[]): Promise<string> {
  const block = renderContainerMemory(date, sizes);
  await writeBlock(file, CONTAINER, block);
  return block;
}

export const resultsFile = join(repoRoot, "bench", "RESULTS.md");
