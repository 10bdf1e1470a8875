// Command line: `mlflow2seldon sync [--once] [--dry-run]`, `mlflow2seldon status [--output json]`.
//   sync            runs the loop until SIGTERM/SIGINT (finishes the current cycle, exits 0)
//   sync --once     one cycle; exit 0 only if it fully succeeded
//   sync --dry-run  prints the plan (creates, updates, deletes) without writing
// Exit codes: 0 success, 1 a cycle failed, 2 bad configuration or usage.
import type { AddressInfo } from "node:net";
import pino from "pino";
import { ConfigError, RegistryAccessError } from "../engine/errors";
import { parseServiceEnv } from "./env";
import { startHttpServer } from "./http";
import { createLogger } from "./logger";
import { Scheduler } from "./scheduler";
import { statusRows, statusTable } from "./status";
import { SyncService } from "./sync-service";

const USAGE = `usage: mlflow2seldon <command> [options]

commands:
  sync              reconcile until SIGTERM/SIGINT (finishes the current cycle, exits 0)
  sync --once       one cycle; exit 0 only if it fully succeeded
  sync --dry-run    print the plan (create/update/delete) without writing
  status            one row per serving slot and owned object: wanted and served version, state
                    (in sync, drifted, missing, conflict, orphan, invalid, withheld); exit 0 only when all
                    are in sync; --output json for a JSON array
  help, --help      this text

Settings come from M2S_* environment variables (README: "Settings"). Exit codes: 0 success,
1 a cycle failed, 2 bad configuration or usage.
`;

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...flags] = argv;
  if (command === "help" || command === "--help" || command === "-h" || flags.includes("--help")) {
    process.stdout.write(USAGE);
    return 0;
  }
  const allowed =
    command === "sync" ? ["--once", "--dry-run"] : command === "status" ? ["--output", "json"] : undefined;
  const unknown = flags.filter((f) => !allowed?.includes(f));
  const json = command === "status" && flags.join(" ") === "--output json";
  if (!allowed || unknown.length > 0 || (command === "status" && flags.length > 0 && !json)) {
    process.stderr.write(USAGE);
    return 2;
  }
  let config;
  let service;
  let log;
  try {
    config = parseServiceEnv(env);
    // The report commands print their result on stdout: their logs go to stderr.
    const reporting = command === "status" || flags.includes("--dry-run");
    log = createLogger(config.logLevel, reporting ? pino.destination({ dest: 2, sync: true }) : undefined);
    // Reads the files the settings name (kubeconfig, CA): their problems are configuration errors too.
    service = new SyncService(config, log);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(
      `mlflow2seldon: invalid configuration\n${error.problems.map((p) => `  ${p.setting}: ${p.message}`).join("\n")}\n`,
    );
    return 2;
  }
  if (config.sourceCluster)
    log.info({ sourceCluster: config.sourceCluster }, "M2S_SRC_NEURO_CLUSTER is accepted for compatibility");

  if (command === "status") {
    const outcome = await service.runCycle({ dryRun: true });
    if (!outcome.report) {
      process.stderr.write(`mlflow2seldon: cannot compute the status: ${outcome.error}\n`);
      return 1;
    }
    const rows = statusRows(outcome.report, { applied: false });
    process.stdout.write(json ? `${JSON.stringify(rows, null, 2)}\n` : statusTable(rows));
    return rows.every((r) => r.state === "in sync") ? 0 : 1;
  }
  if (flags.includes("--dry-run")) {
    const outcome = await service.runCycle({ dryRun: true });
    for (const change of outcome.report?.changes ?? []) {
      process.stdout.write(
        `${change.action.padEnd(6)} ${config.engine.namespace}/${change.name}  ${change.model}@${change.version} (${change.slot})${change.candidate ? ` with ${change.candidate}` : ""}\n`,
      );
    }
    if (outcome.report && outcome.report.changes.length === 0) process.stdout.write("no changes\n");
    return outcome.ok ? 0 : 1;
  }
  if (flags.includes("--once")) return syncOnce(service, config.leaderElection?.leaseDurationMs);

  const scheduler = new Scheduler(service, log);
  const endpoints = { metrics: service.metrics, isReady: () => service.isReady() };
  const statusPage = () => service.statusPage();
  const servers = [
    await startHttpServer({
      ...endpoints,
      port: config.httpPort,
      statusPage: config.statusPage === "http-port" ? statusPage : undefined,
      webhook: config.webhook
        ? {
            admit: () => scheduler.admitDelivery(),
            receive: (headers, body) => scheduler.receiveDelivery(headers, body),
          }
        : undefined,
    }),
  ];
  if (typeof config.statusPage === "object")
    servers.push(await startHttpServer({ ...endpoints, port: config.statusPage.port, statusPage }));
  // MLflow refusing these settings (an untrusted certificate, rejected credentials) fails the
  // start like any invalid setting; MLflow being unreachable does not: the loop retries, and
  // /readyz answers 503 until a cycle succeeds.
  const refusal = await service.client.recentlyUpdatedModels(1).then(
    () => undefined,
    (error: unknown) => (error instanceof RegistryAccessError ? error : undefined),
  );
  if (refusal) {
    for (const server of servers) server.close();
    process.stderr.write(`mlflow2seldon: invalid configuration: ${refusal.message}\n`);
    return 2;
  }
  const stop = new AbortController();
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      log.info({ signal }, "stopping after the current cycle");
      stop.abort();
    });
  }
  log.info(
    {
      namespace: config.engine.namespace,
      owner: config.engine.owner,
      intervalMs: config.intervalMs,
      statusPage: config.statusPage,
      // The port bound: the system's choice when M2S_HTTP_PORT is 0.
      httpPort: (servers[0].address() as AddressInfo).port,
    },
    "sync service started",
  );
  await scheduler.run(stop.signal);
  for (const server of servers) server.close();
  log.info("sync service stopped");
  return 0;
}

/**
 * One cycle. With leader election on (the Deployment's settings) the cycle is the lease holder's
 * like any write: the lease is taken first (a stale one waited out), renewed during the cycle and
 * given up after it; a lease another replica keeps renewing means exit 1 and nothing written.
 */
async function syncOnce(service: SyncService, leaseDurationMs: number | undefined): Promise<number> {
  const leader = service.leader;
  if (!leader || leaseDurationMs === undefined) return (await service.runCycle()).ok ? 0 : 1;
  const election = new AbortController();
  const electing = leader.run(election.signal);
  try {
    if (!(await leader.leadingWithin(2 * leaseDurationMs))) {
      process.stderr.write("mlflow2seldon: another replica holds the lease: sync --once wrote nothing\n");
      return 1;
    }
    return (await service.runCycle()).ok ? 0 : 1;
  } finally {
    election.abort();
    await electing;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`mlflow2seldon: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
