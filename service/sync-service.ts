// The continuous sync service: runs reconcile cycles on an interval with jitter, backs off
// exponentially while MLflow or the cluster fails, and reports through logs and metrics.
import { TARGETS } from "../engine/serving-targets";
import type { IncomingHttpHeaders } from "node:http";
import { ServingObjectStore, kubeClient } from "../engine/apply/store";
import { mapLimited, PARALLEL_REQUESTS, pause } from "../engine/concurrency";
import { EventRecorder } from "../engine/apply/events";
import { ClusterError, errorMessage, RegistryError } from "../engine/errors";
import { fieldManager } from "../engine/inventory";
import { MlflowClient } from "../engine/registry/mlflow-client";
import { listOwnedAt, listServing, reconcile, type CycleReport } from "../engine/apply/reconcile";
import { RegistryReader } from "../engine/registry/reader";
import type { RegisteredModel } from "../engine/registry/schemas";
import type { ServiceConfig } from "./env";
import type { Logger } from "./logger";
import { createMetrics, type Metrics } from "./metrics";
import type { CycleSummary, StatusPageContent } from "./status-page";
import { byModelAndSlot, statusRows, type StatusRow } from "./status";
import { LeaderElector } from "./leader";
import { OwnedObjectsWatch } from "./owned-watch";
import { WEBHOOK_EVENTS, WebhookVerifier } from "./webhook";

/** Cycles the status page lists (the history is bounded: the process runs for months). */
const RECENT_CYCLES = 20;
/** Models per delta poll: more changed than this between two polls and a full read follows. */
const DELTA_PAGE_SIZE = 25;
/** With delta polling, full reads take at most 1/20 of the time (at least the interval apart). */
const FULL_READ_COST_FACTOR = 20;

const fullySucceeded = (report: CycleReport) =>
  report.failures.length === 0 && report.problems.length === 0 && report.conflicts.length === 0;

export interface CycleOutcome {
  ok: boolean;
  report?: CycleReport;
  error?: string;
}

/** Version tags written on a served model version when write-back is enabled. */
export const WRITE_BACK_TAGS = {
  deployment: "mlflow2seldon.deployment",
  state: "mlflow2seldon.state",
} as const;

export class SyncService {
  readonly client: MlflowClient;
  readonly store: ServingObjectStore;
  readonly metrics: Metrics;
  private readonly registry: RegistryReader;
  private readonly events: EventRecorder;
  private consecutiveFailures = 0;
  /** Whether the location cache took what the live objects record (first cycle). */
  private seeded = false;
  /** Whether the last full read of the registry succeeded: delta polls compare with it. */
  private registryRead = false;
  private lastCycleMs = 0;
  /** True once a cycle fully succeeded: /readyz. */
  ready = false;
  /** One reconcile at a time (full, delta, webhook): each waits for the one before. */
  private turn: Promise<unknown> = Promise.resolve();
  private readonly webhooks?: WebhookVerifier;
  private readonly ownedWatch?: OwnedObjectsWatch;
  private readonly leader?: LeaderElector;
  /** Models named by webhook deliveries or drift, not yet reconciled: a burst is one reconcile. */
  private readonly pendingModels = new Set<string>();
  private draining = false;
  private lastRows?: StatusRow[];
  private readonly recentCycles: CycleSummary[] = [];

  constructor(
    readonly config: ServiceConfig,
    private readonly log: Logger,
    metrics: Metrics = createMetrics(),
  ) {
    this.metrics = metrics;
    this.client = new MlflowClient(config.mlflow, {
      request: (endpoint) => metrics.mlflowRequests.inc({ endpoint }),
      connection: () => metrics.mlflowConnections.inc(),
    });
    const cluster = kubeClient({ context: config.kubeContext });
    this.store = new ServingObjectStore(
      cluster,
      TARGETS[config.engine.target],
      fieldManager(config.engine.owner),
      (verb) => metrics.kubeRequests.inc({ verb }),
      {
        writing: (name) => this.ownedWatch?.writing(name),
        written: (name, object) => this.ownedWatch?.written(name, object),
      },
    );
    if (config.watch)
      this.ownedWatch = new OwnedObjectsWatch(
        this.store,
        config.engine,
        (model, object) => {
          this.metrics.driftDetected.inc();
          this.log.info(
            { model, object },
            "an owned object was changed or deleted by someone else; reconciling its model",
          );
          this.queueModel(model);
        },
        log,
      );
    this.events = new EventRecorder(cluster, config.engine.owner, this.store.target);
    if (config.leaderElection)
      this.leader = new LeaderElector(cluster, config.leaderElection, log, (leading) =>
        this.metrics.leader.set(leading ? 1 : 0),
      );
    this.registry = new RegistryReader(this.client, config.engine);
    if (config.webhook) this.webhooks = new WebhookVerifier(config.webhook.secret);
  }

  /** Whether this process may write: always, or while it holds the lease. */
  leading(): boolean {
    return this.leader?.holdsLease() ?? true;
  }

  /** /readyz: a fully successful cycle, or a standby replica (ready to take over). */
  isReady(): boolean {
    return this.ready || !this.leading();
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const result = this.turn.then(work);
    this.turn = result.catch(() => undefined);
    return result;
  }

  async runCycle(options: { dryRun?: boolean } = {}): Promise<CycleOutcome> {
    const endCycle = this.metrics.cycleSeconds.startTimer();
    const cpuBefore = process.cpuUsage();
    const outcome = await this.exclusive(() => this.cycle(options));
    const seconds = endCycle();
    const cpu = process.cpuUsage(cpuBefore);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    this.metrics.cycleCpuSeconds.observe(cpuSeconds);
    this.lastCycleMs = seconds * 1000;
    this.remember(outcome, {
      kind: "full",
      dryRun: options.dryRun ?? false,
      durationMs: Math.round(seconds * 1000),
    });
    // Logged last, once every metric of the cycle is recorded.
    this.log.info(
      {
        ok: outcome.ok,
        changes: outcome.report?.changes.length ?? 0,
        unchanged: outcome.report?.unchanged.length ?? 0,
        failures: outcome.report?.failures.length ?? 0,
        durationMs: Math.round(seconds * 1000),
        cpuMs: Math.round(cpuSeconds * 1000),
        dryRun: options.dryRun ?? false,
      },
      "cycle finished",
    );
    return outcome;
  }

  private async cycle(options: { dryRun?: boolean }): Promise<CycleOutcome> {
    // The live objects first: they also tell a fresh process where the served versions are.
    let live;
    try {
      const listed = await listOwnedAt(this.store, this.config.engine);
      live = listed.items;
      this.ownedWatch?.listed(live, listed.resourceVersion);
    } catch (error) {
      return this.failed("cluster", error);
    }
    if (!this.seeded) {
      this.registry.seed(live);
      this.seeded = true;
    }
    const endRegistry = this.metrics.registryLatency.startTimer();
    let snapshot;
    try {
      snapshot = await this.registry.snapshot();
      this.registryRead = true;
    } catch (error) {
      this.registryRead = false;
      return this.failed("registry", error);
    } finally {
      endRegistry();
    }
    const endApply = this.metrics.applyLatency.startTimer();
    let report: CycleReport;
    try {
      report = await reconcile(snapshot, {
        store: this.store,
        settings: this.config.engine,
        dryRun: options.dryRun,
        live,
        mayWrite: () => this.leading(),
      });
    } catch (error) {
      return this.failed("cluster", error);
    } finally {
      endApply();
    }
    await this.publish(report, options.dryRun ?? false);
    this.metrics.managed.set(
      report.changes.filter((c) => c.action !== "delete").length + report.unchanged.length,
    );
    const ok = fullySucceeded(report);
    this.metrics.cycles.inc({ result: ok ? "success" : "partial" });
    if (ok) {
      this.consecutiveFailures = 0;
      this.ready = true;
      this.metrics.lastSuccess.setToCurrentTime();
    } else {
      this.consecutiveFailures++;
    }
    return { ok, report };
  }

  /** What the page at `/` shows. */
  statusPage(): StatusPageContent {
    const { namespace, owner } = this.config.engine;
    return { namespace, owner, rows: this.lastRows, cycles: this.recentCycles };
  }

  /** Keeps a cycle for the page; one of some models only (`models`) replaces only their rows. */
  private remember(
    outcome: CycleOutcome,
    {
      kind,
      dryRun,
      durationMs,
      models,
    }: { kind: CycleSummary["kind"]; dryRun: boolean; durationMs: number; models?: ReadonlySet<string> },
  ): void {
    const report = outcome.report;
    if (report) {
      const rows = statusRows(report, { applied: !dryRun });
      this.lastRows = models
        ? [...(this.lastRows ?? []).filter((r) => !models.has(r.model)), ...rows].sort(byModelAndSlot)
        : rows;
    }
    const failures = report
      ? [
          ...report.failures.map((f) => `${f.action} ${f.name} (${f.model}@${f.version}): ${f.message}`),
          ...report.problems.map((p) => `${p.model} ${p.slot}: ${p.message}`),
          ...report.conflicts.map((c) => `${c.name}: held by another owner`),
        ]
      : [outcome.error ?? "failed"];
    const changes = report?.changes.length ?? 0;
    this.recentCycles.unshift({
      kind,
      finishedAt: new Date(),
      ok: outcome.ok,
      dryRun,
      durationMs,
      changes,
      failures,
    });
    this.recentCycles.length = Math.min(this.recentCycles.length, RECENT_CYCLES);
  }

  /**
   * Delay before the next full read: the interval with jitter, or exponential backoff after
   * failures. With delta polling, full reads are the safety net, paced by their measured cost.
   */
  nextDelayMs(random: () => number = Math.random): number {
    const { intervalMs, jitter, maxBackoffMs, deltaPollMs } = this.config;
    const paced =
      deltaPollMs > 0 ? Math.max(intervalMs, FULL_READ_COST_FACTOR * this.lastCycleMs) : intervalMs;
    const base =
      this.consecutiveFailures === 0
        ? paced
        : Math.min(maxBackoffMs, intervalMs * 2 ** this.consecutiveFailures);
    return Math.round(base * (1 + jitter * (2 * random() - 1)));
  }

  /**
   * Runs full cycles until `signal` aborts, and between them delta polls (after a successful full
   * read, which they compare with); the cycle in progress always finishes first.
   */
  async run(signal: AbortSignal): Promise<void> {
    let watching: Promise<void> | undefined;
    const electing = this.leader?.run(signal);
    while (!signal.aborted) {
      if (!this.leading()) {
        // A standby reads nothing and writes nothing; it checks again every retry period.
        await pause(this.config.leaderElection!.retryPeriodMs, signal);
        continue;
      }
      await this.runCycle();
      if (signal.aborted) break;
      // The watch starts after the first full read, which tells it what the objects should be.
      watching ??= this.ownedWatch?.run(signal);
      const delay = this.nextDelayMs();
      this.log.debug({ delayMs: delay }, "next full read scheduled");
      this.metrics.fullReadInterval.set(delay / 1000);
      const due = Date.now() + delay;
      const polling = this.config.deltaPollMs > 0 && this.registryRead;
      while (!signal.aborted && Date.now() < due) {
        await pause(Math.min(polling ? this.config.deltaPollMs : Infinity, due - Date.now()), signal);
        if (!this.leading()) break;
        if (polling && !signal.aborted && Date.now() < due && !(await this.deltaCycle())) break;
      }
    }
    await watching;
    await electing;
  }

  /**
   * One delta poll: the managed models updated since they were last read are reconciled on their
   * own (their objects only). False when only a full read can tell what changed. A failure
   * changes nothing; the next full read catches up.
   */
  async deltaCycle(): Promise<boolean> {
    return this.exclusive(async () => {
      let changed;
      try {
        changed = await this.registry.recentChanges(DELTA_PAGE_SIZE);
      } catch (error) {
        return this.deltaFailed(error);
      }
      if (changed === undefined) {
        this.metrics.deltaPolls.inc({ result: "overflow" });
        return false;
      }
      if (changed.length === 0) {
        this.metrics.deltaPolls.inc({ result: "unchanged" });
        return true;
      }
      const names = new Set(changed.map((m) => m.name));
      const done = await this.reconcileModels(names, "delta", async () => changed);
      this.metrics.deltaPolls.inc({ result: done ? "changed" : "failure" });
      return true;
    });
  }

  /**
   * Answers a webhook delivery at once (202, or why it is refused); the model it names is read
   * from MLflow and reconciled right after, deliveries that arrive meanwhile coalescing.
   */
  receiveWebhook(headers: IncomingHttpHeaders, body: Buffer): { status: number; text: string } {
    if (!this.webhooks) return { status: 404, text: "webhooks are off" };
    // MLflow retries a 503 (after Retry-After), and a retry may reach the leader; the poll and
    // the full read cover a delivery that never does.
    if (!this.leading()) return { status: 503, text: "standby replica: the leader receives deliveries" };
    const verdict = this.webhooks.verify(headers, body);
    this.metrics.webhookDeliveries.inc({ result: String(verdict.status) });
    if (verdict.status !== 202) {
      this.log.warn({ status: verdict.status, reason: verdict.reason }, "webhook delivery refused");
      return { status: verdict.status, text: verdict.reason };
    }
    this.log.debug({ model: verdict.model, event: verdict.event }, "webhook delivery accepted");
    this.queueModel(verdict.model);
    return { status: 202, text: "accepted" };
  }

  /** Reads `model` from MLflow and reconciles it soon; requests that arrive meanwhile coalesce. */
  private queueModel(model: string): void {
    if (!this.registry.manages(model) || !this.leading()) return;
    this.pendingModels.add(model);
    if (!this.draining) void this.drainQueuedModels();
  }

  private async drainQueuedModels(): Promise<void> {
    this.draining = true;
    try {
      while (this.pendingModels.size > 0) {
        const names = new Set(this.pendingModels);
        this.pendingModels.clear();
        await this.exclusive(() =>
          this.reconcileModels(names, "targeted", async () =>
            (
              await mapLimited([...names], PARALLEL_REQUESTS, (n) => this.client.getRegisteredModel(n))
            ).filter((m) => m !== undefined),
          ),
        );
      }
    } finally {
      this.draining = false;
    }
  }

  /**
   * Reconciles `names` on their own: `read` gives their registry records (a model absent from
   * them does not exist, as MLflow answered, and loses its objects). False when reading or
   * listing failed; nothing was changed then, and the next full read catches up.
   */
  private async reconcileModels(
    names: ReadonlySet<string>,
    trigger: "delta" | "targeted",
    read: () => Promise<RegisteredModel[]>,
  ): Promise<boolean> {
    const started = performance.now();
    let report;
    try {
      const live = await listServing(this.store, this.config.engine, names);
      report = await reconcile(await this.registry.snapshotOf(await read()), {
        store: this.store,
        settings: this.config.engine,
        live,
        mayWrite: () => this.leading(),
      });
    } catch (error) {
      this.log.warn(
        { trigger, models: [...names], err: errorMessage(error) },
        "could not reconcile the changed models; nothing was changed, the next full read catches up",
      );
      return false;
    }
    await this.publish(report, false);
    const durationMs = Math.round(performance.now() - started);
    this.remember(
      { ok: fullySucceeded(report), report },
      { kind: trigger, dryRun: false, durationMs, models: names },
    );
    this.log.info(
      {
        trigger,
        models: [...names],
        changes: report.changes.length,
        failures: report.failures.length,
        durationMs,
      },
      `${trigger} cycle finished`,
    );
    return true;
  }

  /** Registers the service's webhook in MLflow unless one of that name and URL exists (best effort). */
  async registerWebhook(): Promise<void> {
    const webhook = this.config.webhook;
    if (!webhook?.url) return;
    const name = `mlflow2seldon-${this.config.engine.owner}`;
    try {
      const existing = await this.client.listWebhooks();
      if (existing.some((w) => w.name === name && w.url === webhook.url)) {
        this.log.info({ name, url: webhook.url }, "webhook already registered in MLflow");
        return;
      }
      await this.client.createWebhook({
        name,
        url: webhook.url,
        secret: webhook.secret,
        events: [...WEBHOOK_EVENTS],
      });
      this.log.info({ name, url: webhook.url }, "webhook registered in MLflow");
    } catch (error) {
      this.log.warn(
        { err: errorMessage(error) },
        "could not register the webhook in MLflow; changes still arrive by polling",
      );
    }
  }

  private deltaFailed(error: unknown): true {
    this.metrics.deltaPolls.inc({ result: "failure" });
    this.log.warn(
      { err: errorMessage(error) },
      "delta poll failed; nothing was changed, the next full read catches up",
    );
    return true;
  }

  private failed(stage: "registry" | "cluster", error: unknown): CycleOutcome {
    this.consecutiveFailures++;
    this.metrics.cycles.inc({ result: "failure" });
    this.metrics.failures.inc({ stage });
    const context =
      error instanceof RegistryError
        ? { endpoint: error.endpoint, status: error.status }
        : error instanceof ClusterError
          ? { object: error.object, status: error.status }
          : {};
    this.log.error(
      { stage, ...context, consecutiveFailures: this.consecutiveFailures, err: errorMessage(error) },
      stage === "registry"
        ? "could not read the MLflow registry completely; nothing was changed"
        : "could not read the cluster; nothing was changed",
    );
    return { ok: false, error: errorMessage(error) };
  }

  private record(report: CycleReport, dryRun: boolean): void {
    for (const change of report.changes) {
      (change.warnings ? this.log.warn : this.log.info).call(
        this.log,
        { ...change, dryRun },
        dryRun
          ? `would ${change.action}`
          : `${change.action}d ${this.store.target.kind}${change.warnings ? " with warnings from the API server" : ""}`,
      );
      if (!dryRun) this.metrics.objects.inc({ outcome: `${change.action}d` });
    }
    this.metrics.objects.inc({ outcome: "unchanged" }, report.unchanged.length);
    for (const failure of report.failures) {
      this.metrics.objects.inc({ outcome: "failed" });
      this.log.error(failure, `could not ${failure.action} ${this.store.target.kind}`);
    }
    for (const problem of report.problems)
      this.log.warn(problem, "model skipped; its existing deployment is kept");
    for (const conflict of report.conflicts) {
      this.log.warn(
        conflict,
        `a ${this.store.target.kind} of that name exists and is not ours; left untouched`,
      );
    }
  }

  /** Logs, metrics, Events and write-back of a reconcile's report. */
  private async publish(report: CycleReport, dryRun: boolean): Promise<void> {
    this.record(report, dryRun);
    if (dryRun) return;
    await this.recordEvents(report);
    if (this.config.writeBack) await this.writeBack(report);
  }

  /** One Event per change and per refused write, on the object (best effort, logged on failure). */
  private async recordEvents(report: CycleReport): Promise<void> {
    const namespace = this.config.engine.namespace;
    const events = [
      ...report.changes.map((change) => ({ change, failure: undefined as string | undefined })),
      ...report.failures.map((failure) => ({ change: failure, failure: failure.message })),
    ];
    await mapLimited(events, PARALLEL_REQUESTS, ({ change, failure }) =>
      this.events
        .record(change, namespace, failure)
        .catch((error: unknown) =>
          this.log.warn(
            { name: change.name, err: errorMessage(error) },
            "could not record a Kubernetes Event",
          ),
        ),
    );
  }

  /** Tags each newly served version with where it is served (best effort, logged on failure). */
  private async writeBack(report: CycleReport): Promise<void> {
    const namespace = this.config.engine.namespace;
    for (const change of report.changes) {
      if (change.action === "delete" || !change.model) continue;
      try {
        await this.client.setModelVersionTag(
          change.model,
          change.version,
          WRITE_BACK_TAGS.deployment,
          `${namespace}/${change.name}`,
        );
        await this.client.setModelVersionTag(change.model, change.version, WRITE_BACK_TAGS.state, "deployed");
      } catch (error) {
        this.log.warn(
          { model: change.model, version: change.version, err: errorMessage(error) },
          "write-back failed",
        );
      }
    }
  }
}
