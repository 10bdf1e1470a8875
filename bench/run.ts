// `npm run bench`: sync cost and latency at registry scale on the testbed (real MLflow server,
// kube-apiserver and Pulumi CLI). Reports to stdout and bench/RESULTS.md; never fails on time.
//   node dist/bench/run.js [--sizes 100,1000,5000] [--repetitions 3] [--promotions 20]
//                          [--pulumi-deployments 100,1000,5000] [--only service,pulumi,container]
//                          [--profile DIR] [--soak-cycles 3000] [--store sqlite|postgresql]
//                          [--memory-limit-mib MIB]
// --only runs some of the three parts (the sync service as a process, the Pulumi stack's
// lifecycle, the image in its container); each rewrites its own tables only.
// --profile writes a V8 CPU profile of each measured service process into DIR.
// --store postgresql measures the service against the newest MLflow on PostgreSQL with
// basic-auth and TLS (bench/mlflow-server.ts), into a block of its own.
// --memory-limit-mib gives the service's container (or, on the host, its V8 heap ceiling as the
// image derives it) another memory limit than the SyncService component's default.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { RegistryAdmin } from "../test/support/mlflow";
import { WEBHOOK_EVENTS } from "../service/webhook";
import { readTestbedEnv, repoRoot } from "../test/support/testbed-env";
import { freePort } from "../test/support/wait";
import { BenchCluster } from "./cluster";
import { promotions, servedSlots, SIZES, type Promotion } from "./dataset";
import { registryStores, sqliteStore, type MlflowServer, type RegistryStore } from "./mlflow-server";
import { ensureRegistries, snapshotPath } from "./populate";
import { pulumiLifecycle, registryServing, type PulumiLifecycle } from "./pulumi-lifecycle";
import { progress } from "./progress";
import { promotionLatencies, repairLatencies } from "./promotion";
import {
  resultsFile,
  writeContainerMemory,
  writePulumiLifecycles,
  writeResults,
  type ContainerRun,
  type PromotionRun,
  type SizeResult,
} from "./report";
import { nodeLaunch, oldSpaceMb, ServiceProcess, total, type CycleFigures } from "./service-process";
import { ContainerLaunch, containerLimits } from "./service-container";
import { setTimeout as sleep } from "node:timers/promises";
import { soak } from "./soak";
import { latencyChart } from "./chart";
import { percentile } from "./stats";

const MLFLOW_PORT = Number(process.env.M2S_BENCH_MLFLOW_PORT ?? 5831);
const PAGE_SIZE = 200; // the client's default
/** Promotions happen at random moments within this window (two default intervals). */
const PROMOTION_WINDOW_MS = 60_000;
// Model deployments of the Pulumi stacks measured through their lifecycle.
const PULUMI_DEPLOYMENTS = [100, 1000, 5000];

/** The pinned component versions (testbed/versions.sh). */
const testbed = Object.fromEntries(
  [...readFileSync(join(repoRoot, "testbed", "versions.sh"), "utf8").matchAll(/^([A-Z_]+)=(\S+)$/gm)].map(
    (m) => [m[1], m[2]],
  ),
);

function describe(figures: CycleFigures): string {
  return `${figures.wallSeconds.toFixed(2)} s wall, ${figures.cpuSeconds.toFixed(2)} s CPU, ${figures.mlflowRequests} MLflow / ${figures.kubeRequests} Kubernetes requests, ${figures.kubeWrites} writes`;
}

/** MLflow requests per second are read over this quiet time after the promotions. */
const QUIET_SECONDS = 60;
/** Objects edited by hand to time the watch's repair. */
const HAND_EDITS = 10;

/**
 * The service at its defaults (delta poll every second, full reads paced by their cost), with or
 * without MLflow webhooks, on the synchronised cluster: its first cycle is a new process's no-op
 * (the locations come from the live objects), then the promotions, then a quiet minute.
 */
async function measurePromotions(
  env: Record<string, string>,
  server: MlflowServer,
  cluster: BenchCluster,
  planned: Promotion[],
  webhooks: boolean,
): Promise<PromotionRun & { freshNoop: CycleFigures }> {
  const port = await freePort();
  const admin = new RegistryAdmin(server.admin);
  // MLflow's admin registers the webhook, as production does where the service's user may only read.
  const secret = randomBytes(24).toString("hex");
  const webhook = webhooks
    ? await admin.createWebhook({
        name: `mlflow2seldon-bench-${randomBytes(3).toString("hex")}`,
        url: `http://127.0.0.1:${port}/webhooks/mlflow`,
        secret,
        events: [...WEBHOOK_EVENTS],
      })
    : undefined;
  const service = new ServiceProcess(webhooks ? { ...env, M2S_WEBHOOK_SECRET: secret } : env, port);
  try {
    const freshNoop = await service.nextCycle();
    if (freshNoop.kubeWrites !== 0)
      throw new Error(`a fresh process's no-op cycle wrote ${freshNoop.kubeWrites} objects`);
    progress(`fresh process, nothing changed: ${describe(freshNoop)}`);
    // The bench's MLflow server refreshes its webhook list every second.
    if (webhooks) await sleep(2000);
    const fullReadSeconds = total(await service.scrape(), "mlflow2seldon_full_read_interval_seconds");
    const label = webhooks ? "with webhooks" : "without webhooks";
    progress(`${planned.length} promotions ${label}; full reads every ${fullReadSeconds.toFixed(0)} s`);
    const latencies = await promotionLatencies({
      client: admin,
      cluster,
      promotions: planned,
      windowMs: PROMOTION_WINDOW_MS,
      // An alias move without webhooks waits for the rolling read, or the next full read.
      deadlineMs: 2 * fullReadSeconds * 1000 + 30_000,
      seed: planned.length,
    });
    const before = await service.scrape();
    await sleep(QUIET_SECONDS * 1000);
    const after = await service.scrape();
    const requests = (s: typeof before) => total(s, "mlflow2seldon_mlflow_requests_total");
    const steadyMlflowRequestsPerSecond = (requests(after) - requests(before)) / QUIET_SECONDS;
    progress(`steady MLflow load ${label}: ${steadyMlflowRequestsPerSecond.toFixed(2)} requests/s`);
    // Hand edits are the watch's business, webhooks or not: measured once.
    const repairMs = webhooks
      ? undefined
      : await repairLatencies({
          cluster,
          count: HAND_EDITS,
          windowMs: 10_000,
          deadlineMs: 2 * fullReadSeconds * 1000 + 30_000,
          seed: planned.length,
        });
    if (repairMs) progress(`hand edits repaired: p50 ${(percentile(repairMs, 50) / 1000).toFixed(2)} s`);
    return {
      webhooks,
      latencies,
      fullReadSeconds,
      steadyMlflowRequestsPerSecond,
      repairMs,
      peakRssBytes: service.peakRssBytes(),
      freshNoop,
    };
  } finally {
    await service.stop();
    if (webhook) await admin.deleteWebhook(webhook.webhook_id);
  }
}

// Full reads only (no delta poll or watch, whose requests would count in a cycle's figures), a
// second apart, so the no-op cycles follow the cold one quickly.
const FULL_READS_ONLY = {
  M2S_SYNC_INTERVAL_SECONDS: "1",
  M2S_SYNC_JITTER: "0",
  M2S_DELTA_POLL_SECONDS: "0",
  M2S_WATCH: "false",
};

/**
 * The image in its container, as its Deployment runs it: a cold cycle into the emptied namespace,
 * then two no-op cycles; memory read from the process and the container's cgroup.
 */
async function measureContainer(
  env: Record<string, string>,
  cluster: BenchCluster,
  served: number,
): Promise<ContainerRun> {
  await cluster.clear();
  const launch = new ContainerLaunch(process.env.KUBECONFIG!);
  const service = new ServiceProcess({ ...env, ...FULL_READS_ONLY }, await freePort(), launch);
  try {
    const cold = await service.nextCycle();
    if (cold.kubeWrites !== served)
      throw new Error(`the container's cold cycle wrote ${cold.kubeWrites} objects, expected ${served}`);
    const noop = [await service.nextCycle(), await service.nextCycle()];
    if (noop.some((n) => n.kubeWrites !== 0)) throw new Error("a no-op cycle in the container wrote objects");
    const run = {
      cold,
      noop,
      peakRssBytes: service.peakRssBytes(),
      cgroupPeakBytes: launch.cgroupPeakBytes(),
      memoryLimitBytes: containerLimits.memoryBytes,
      cpuLimit: containerLimits.cpus,
    };
    progress(
      `${served} objects in the container: cold ${describe(cold)}; peak RSS ${(run.peakRssBytes / 2 ** 20).toFixed(0)} MiB, cgroup peak ${(run.cgroupPeakBytes / 2 ** 20).toFixed(0)} MiB`,
    );
    return run;
  } finally {
    await service.stop();
    launch.cleanUp();
  }
}

async function benchSize(
  models: number,
  options: {
    store: RegistryStore;
    workDir: string;
    repetitions: number;
    promotions: number;
    soakCycles: number;
    container: boolean;
    profileDir?: string;
  },
): Promise<SizeResult> {
  const served = servedSlots(models);
  const server = await options.store.start({
    name: `registry-${models}`,
    workDir: options.workDir,
    from: snapshotPath(options.store, models),
    port: MLFLOW_PORT,
    logFile: join(options.workDir, `mlflow-${models}.log`),
    authenticated: true,
  });
  const cluster = new BenchCluster(`bench-${models}-${randomBytes(3).toString("hex")}`);
  await cluster.createNamespace();
  const env = {
    ...server.serviceEnv,
    M2S_SELDON_DEPLOYMENT_NS: cluster.namespace,
    M2S_SELDON_NEURO_DEF_IMAGE: "registry.example.com/mlflow-wrapper:1.0",
    M2S_OWNER: "bench",
    M2S_LOG_LEVEL: "info",
  };
  const result: SizeResult = {
    models,
    served,
    cold: [],
    noop: [],
    peakRssBytes: [],
    promotionRuns: [],
  };
  try {
    for (let r = 1; r <= options.repetitions; r++) {
      await cluster.clear();
      const nodeOptions = options.profileDir
        ? [
            "--cpu-prof",
            "--cpu-prof-dir",
            options.profileDir,
            "--cpu-prof-name",
            `service-${models}-${r}.cpuprofile`,
          ]
        : [];
      const service = new ServiceProcess(
        { ...env, ...FULL_READS_ONLY },
        await freePort(),
        nodeLaunch(nodeOptions),
      );
      try {
        const cold = await service.nextCycle();
        if (cold.kubeWrites !== served)
          throw new Error(`cold cycle wrote ${cold.kubeWrites} objects, expected ${served}`);
        result.cold.push(cold);
        progress(`${models} models, cold ${r}/${options.repetitions}: ${describe(cold)}`);
        for (let k = 0; k < 2; k++) {
          const noop = await service.nextCycle();
          if (noop.kubeWrites !== 0) throw new Error(`a no-op cycle wrote ${noop.kubeWrites} objects`);
          result.noop.push(noop);
          progress(`${models} models, no-op: ${describe(noop)}`);
        }
        result.peakRssBytes.push(service.peakRssBytes());
        progress(`${models} models, peak RSS ${(result.peakRssBytes.at(-1)! / 2 ** 20).toFixed(0)} MiB`);
      } finally {
        await service.stop();
      }
    }
    if (options.container) result.container = await measureContainer(env, cluster, served);
    if (options.soakCycles > 0) {
      // Cycles back to back on the synchronised cluster: only what leaks would grow.
      const service = new ServiceProcess(
        { ...env, ...FULL_READS_ONLY, M2S_SYNC_INTERVAL_SECONDS: "0.01" },
        await freePort(),
      );
      try {
        result.soak = await soak(service, models, options.soakCycles);
      } finally {
        await service.stop();
      }
    }
    if (options.promotions > 0) {
      for (const [round, webhooks] of [false, true].entries()) {
        const run = await measurePromotions(
          env,
          server,
          cluster,
          promotions(models, options.promotions, round),
          webhooks,
        );
        const { freshNoop, ...promotionRun } = run;
        result.freshNoop ??= freshNoop;
        result.promotionRuns.push(promotionRun);
        for (const kind of ["stage", "alias"] as const) {
          const ms = run.latencies.filter((l) => l.kind === kind).map((l) => l.ms);
          progress(
            `${models} models, ${kind} ${webhooks ? "with" : "without"} webhooks: p50 ${(percentile(ms, 50) / 1000).toFixed(2)} s, p95 ${(percentile(ms, 95) / 1000).toFixed(2)} s`,
          );
        }
      }
    }
  } finally {
    await cluster.deleteNamespace().catch(() => {});
    await server.stop();
  }
  return result;
}

/** The benchmark's parts, each writing its own block of RESULTS.md. */
const SECTIONS = ["service", "pulumi", "container"] as const;
type Section = (typeof SECTIONS)[number];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sizes: { type: "string", default: SIZES.join(",") },
      repetitions: { type: "string", default: "3" },
      promotions: { type: "string", default: "20" },
      "pulumi-deployments": { type: "string", default: PULUMI_DEPLOYMENTS.join(",") },
      only: { type: "string", default: SECTIONS.join(",") },
      profile: { type: "string" },
      "soak-cycles": { type: "string", default: "3000" },
      store: { type: "string", default: "sqlite" },
      "memory-limit-mib": { type: "string" },
    },
  });
  if (!(values.store in registryStores))
    throw new Error(`--store ${values.store}: the stores are ${Object.keys(registryStores).join(", ")}`);
  const store = registryStores[values.store as keyof typeof registryStores];
  // A registry the default limit cannot hold.
  if (values["memory-limit-mib"]) process.env.M2S_BENCH_MEMORY_LIMIT_MIB = values["memory-limit-mib"];
  const only = new Set(values.only.split(","));
  const unknown = [...only].filter((s) => !(SECTIONS as readonly string[]).includes(s));
  if (unknown.length) throw new Error(`--only ${unknown.join(",")}: the sections are ${SECTIONS.join(", ")}`);
  const runs = (section: Section) => only.has(section);
  // The Pulumi program and the container are given a URL only: their registry is the sqlite one.
  if (store !== sqliteStore && (runs("pulumi") || runs("container")))
    throw new Error(`--store ${store.name} measures the service only: add --only service`);
  Object.assign(process.env, readTestbedEnv());
  const started = performance.now();
  const sizes = runs("service") || runs("container") ? values.sizes.split(",").map(Number) : [];
  const repetitions = runs("service") ? Number(values.repetitions) : 0;
  const workDir = mkdtempSync(join(tmpdir(), "mlflow2seldon-bench-"));
  const date = new Date().toISOString().slice(0, 10);
  try {
    const pulumiRuns = runs("pulumi") ? values["pulumi-deployments"].split(",").map(Number) : [];
    const registries = [...new Set([...sizes, ...pulumiRuns.map(registryServing)])];
    progress(`registries of ${registries.join(", ")} models (cached after the first run)`);
    await ensureRegistries(store, registries, workDir, MLFLOW_PORT);
    // The Pulumi runs first: they fail fastest.
    const lifecycles: PulumiLifecycle[] = [];
    for (const deployments of pulumiRuns) {
      const registry = registryServing(deployments);
      const mlflowLog = join(workDir, `mlflow-pulumi-${deployments}.log`);
      const server = await store.start({
        name: `pulumi-${deployments}`,
        workDir,
        from: snapshotPath(store, registry),
        port: MLFLOW_PORT,
        logFile: mlflowLog,
        authenticated: false,
      });
      try {
        lifecycles.push(
          await pulumiLifecycle({
            mlflowUrl: server.url,
            registryModels: registry,
            deployments: servedSlots(registry),
            id: randomBytes(3).toString("hex"),
            repetitions: 3,
            mlflowLog,
          }),
        );
      } finally {
        await server.stop();
      }
    }
    if (runs("pulumi"))
      process.stdout.write(
        `${await writePulumiLifecycles(resultsFile, date, testbed.PULUMI_VERSION, lifecycles)}\n`,
      );
    const results: SizeResult[] = [];
    for (const [index, models] of sizes.entries()) {
      results.push(
        await benchSize(models, {
          store,
          workDir,
          repetitions,
          promotions: runs("service") ? Number(values.promotions) : 0,
          // The soak runs at the smallest registry, where cycles are shortest.
          soakCycles: index === 0 && runs("service") ? Number(values["soak-cycles"]) : 0,
          container: runs("container"),
          profileDir: values.profile && resolve(values.profile),
        }),
      );
    }
    if (runs("container"))
      process.stdout.write(`${await writeContainerMemory(resultsFile, date, results)}\n`);
    if (runs("service")) {
      if (store === sqliteStore && results.some((r) => r.promotionRuns.length > 0))
        writeFileSync(join(dirname(resultsFile), "promotion-latency.svg"), latencyChart(results));
      const block = await writeResults(resultsFile, {
        store: store.name,
        date,
        pageSize: PAGE_SIZE,
        repetitions,
        versions: {
          "Node.js": process.version,
          MLflow: store.describe(),
          "service V8 old space": `${oldSpaceMb()} MB (the image's share of a ${containerLimits.memoryBytes / 2 ** 20} MiB memory limit)`,
          "kube-apiserver": testbed.KUBERNETES_VERSION,
          etcd: testbed.ETCD_VERSION,
        },
        sizes: results,
        benchSeconds: (performance.now() - started) / 1000,
      });
      process.stdout.write(`${block}\n`);
    }
    progress(`results written to ${resultsFile}`);
    rmSync(workDir, { recursive: true, force: true });
  } catch (error) {
    progress(`server logs kept in ${workDir}`);
    throw error;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
