// The sync service's cycles: a full read of the registry, a delta poll's models, or the models a
// webhook delivery or the watch named, each reconciled and reported (logs, metrics, Events,
// write-back, the status page). When they run is the scheduler's business (scheduler.ts).
import type { IncomingHttpHeaders } from "node:http";
import { ServingObjectStore, kubeClient } from "../engine/apply/store";
import { EventRecorder } from "../engine/apply/events";
import { listOwnedAt, listServing, reconcile, type CycleReport } from "../engine/apply/reconcile";
import { mapLimited, PARALLEL_REQUESTS } from "../engine/concurrency";
import { ClusterError, errorMessage, RegistryError } from "../engine/errors";
import { fieldManager, servedModel } from "../engine/inventory";
import { MlflowClient } from "../engine/registry/mlflow-client";
import { RegistryReader } from "../engine/registry/reader";
import type { RegisteredModel } from "../engine/registry/schemas";
import { TARGETS } from "../engine/serving-targets";
import type { ServiceConfig } from "./env";
import { LeaderElector } from "./leader";
import type { Logger } from "./logger";
import { createMetrics, type Metrics } from "./metrics";
import { OwnedObjectsWatch } from "./owned-watch";
import { byModelAndSlot, statusRows, type StatusRow } from "./status";
import type { CycleSummary, StatusPageContent, WebhookState } from "./status-page";
import { WEBHOOK_EVENTS, WebhookVerifier, type WebhookVerdict } from "./webhook";

/** Cycles the status page lists (the history is bounded: the process runs for months). */
const RECENT_CYCLES = 20;
/** Models per delta poll: more changed than this between two polls and a full read follows. */
const DELTA_PAGE_SIZE = 25;
/** Models a rolling read reads at once: MLflow's largest page, for the fewest requests. */
const ROLLING_PAGE_SIZE = 1000;

const fullySucceeded = (report: CycleReport) =>
  report.failures.length === 0 &&
  report.problems.length === 0 &&
  report.conflicts.length === 0 &&
  report.withheld.length === 0;

export interface CycleOutcome {
  ok: boolean;
  report?: CycleReport;
  error?: string;
  /** Where a failed cycle stopped (nothing was written then). */
  stage?: "registry" | "cluster";
  durationMs: number;
}

/** What one delta poll found: nothing, changes it reconciled (or failed to), or more than it can tell. */
export type DeltaResult = "unchanged" | "changed" | "failure" | "overflow";

/** Version tags written on a served model version when write-back is enabled. */
export const WRITE_BACK_TAGS = {
  deployment: "mlflow2seldon.deployment",
  state: "mlflow2seldon.state",
} as const;

export class SyncService {
  readonly client: MlflowClient;
  readonly store: ServingObjectStore;
  readonly metrics: Metrics;
  readonly leader?: LeaderElector;
  readonly ownedWatch?: OwnedObjectsWatch;
  private readonly registry: RegistryReader;
  private readonly events: EventRecorder;
  private readonly webhooks?: WebhookVerifier;
  /** Whether the location cache took what the live objects record (first cycle). */
  private seeded = false;
  /** Whether the last full read of the registry succeeded: delta polls compare with it. */
  registryRead = false;
  /** True once a cycle fully succeeded: /readyz. */
  private ready = false;
  /** Set on SIGTERM: a replica electing a leader starts no write before it releases the lease. */
  private stopping = false;
  /** Receives the models whose objects someone else changed (the scheduler queues them). */
  private onDrift: (model: string) => void = () => {};
  private lastRows?: StatusRow[];
  private readonly recentCycles: CycleSummary[] = [];
  /** How registry events reach this replica (status page; mlflow2seldon_webhook_registered). */
  private webhookState: WebhookState;

  constructor(
    readonly config: ServiceConfig,
    private readonly log: Logger,
    metrics: Metrics = createMetrics(),
  ) {
    this.metrics = metrics;
    this.webhookState = !config.webhook
      ? { state: "off" }
      : config.webhook.url
        ? { state: "not registered", reason: "the leader registers it" }
        : { state: "receiving", registered: "elsewhere" };
    this.client = new MlflowClient(config.mlflow, {
      request: (endpoint) => metrics.mlflowRequests.inc({ endpoint }),
      connection: () => metrics.mlflowConnections.inc(),
    });
    const cluster = kubeClient({ context: config.kubeContext });
    this.store = new ServingObjectStore(
      cluster,
      TARGETS[config.engine.target],
      fieldManager(config.engine.owner),
      {
        onRequest: (verb) => metrics.kubeRequests.inc({ verb }),
        observer: {
          writing: (name) => this.ownedWatch?.writing(name),
          written: (name, object) => this.ownedWatch?.written(name, object),
        },
        writeBlocked: () => this.writeBlocked(),
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
          this.onDrift(model);
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

  /** Whether this process may write: always, or while it holds the lease and is not stopping. */
  leading(): boolean {
    return this.writeBlocked() === undefined;
  }

  /** Why this process may not write now, or undefined (asked before every write attempt). */
  writeBlocked(): string | undefined {
    if (!this.leader) return undefined;
    if (this.stopping) return "this replica is stopping and releases its lease";
    return this.leader.holdsLease() ? undefined : "this replica does not hold the lease";
  }

  /** SIGTERM: with leader election, no write starts from now on (the lease is released after). */
  stopWriting(): void {
    this.stopping = true;
  }

  /** /readyz: a fully successful cycle, or a standby replica (ready to take over). */
  isReady(): boolean {
    return this.ready || !this.leading();
  }

  /** Where drift found by the watch goes (the scheduler's queue of models). */
  handleDrift(onDrift: (model: string) => void): void {
    this.onDrift = onDrift;
  }

  /** One full cycle: every owned object against a full read of the registry. */
  async runCycle(options: { dryRun?: boolean } = {}): Promise<CycleOutcome> {
    const endCycle = this.metrics.cycleSeconds.startTimer();
    const cpuBefore = process.cpuUsage();
    const outcome = await this.fullCycle(options);
    const seconds = endCycle();
    const cpu = process.cpuUsage(cpuBefore);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    this.metrics.cycleCpuSeconds.observe(cpuSeconds);
    outcome.durationMs = Math.round(seconds * 1000);
    this.remember(outcome, { kind: "full", dryRun: options.dryRun ?? false });
    // Logged last, once every metric of the cycle is recorded.
    this.log.info(
      {
        ok: outcome.ok,
        changes: outcome.report?.changes.length ?? 0,
        unchanged: outcome.report?.unchanged.length ?? 0,
        failures: outcome.report?.failures.length ?? 0,
        withheld: outcome.report?.withheld.length ?? 0,
        durationMs: outcome.durationMs,
        cpuMs: Math.round(cpuSeconds * 1000),
        dryRun: options.dryRun ?? false,
      },
      "cycle finished",
    );
    return outcome;
  }

  private async fullCycle(options: { dryRun?: boolean }): Promise<CycleOutcome> {
    // The live objects first: they tell a fresh process where the served versions are, and
    // which models a listing must not leave out unconfirmed.
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
      snapshot = await this.registry.snapshot(live.map(servedModel));
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
        maxDeletions: this.config.maxDeletions,
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
      this.ready = true;
      this.metrics.lastSuccess.setToCurrentTime();
    }
    return { ok, report, durationMs: 0 };
  }

  /**
   * One delta poll: the managed models updated since they were last read are reconciled on their
   * own (their objects only). A failure changes nothing; the next full read catches up.
   */
  async deltaCycle(): Promise<DeltaResult> {
    let changed;
    try {
      changed = await this.registry.recentChanges(DELTA_PAGE_SIZE);
    } catch (error) {
      this.log.warn(
        { err: errorMessage(error) },
        "delta poll failed; nothing was changed, the next full read catches up",
      );
      this.metrics.deltaPolls.inc({ result: "failure" });
      return "failure";
    }
    const result: DeltaResult =
      changed === undefined
        ? "overflow"
        : changed.length === 0
          ? "unchanged"
          : (await this.reconcileModels(new Set(changed.map((m) => m.name)), "delta", async () => changed))
            ? "changed"
            : "failure";
    this.metrics.deltaPolls.inc({ result });
    return result;
  }

  /** Whether alias and tag changes need the rolling read: no webhook deliveries arrive. */
  needsRollingRead(): boolean {
    return this.webhookState.state !== "receiving";
  }

  /**
   * The managed models of the next page of the registry, in turn, whose record changed since it
   * was read (an alias moved, a tag changed: the delta poll sees neither). Nothing when the read
   * fails: the next one, or a full read, catches up.
   */
  async rollingRead(): Promise<string[]> {
    try {
      return (await this.registry.rollingChanges(ROLLING_PAGE_SIZE)).map((m) => m.name);
    } catch (error) {
      this.log.warn(
        { err: errorMessage(error) },
        "rolling read of the registry failed; the next one catches up",
      );
      return [];
    }
  }

  /** Reads `names` from MLflow one by one and reconciles them (webhook deliveries, drift). */
  async targetedCycle(names: ReadonlySet<string>): Promise<boolean> {
    return this.reconcileModels(names, "targeted", async () =>
      (await mapLimited([...names], PARALLEL_REQUESTS, (n) => this.client.getRegisteredModel(n))).filter(
        (m) => m !== undefined,
      ),
    );
  }

  /** Whether this owner manages the model (its include and exclude patterns). */
  manages(model: string): boolean {
    return this.registry.manages(model);
  }

  /** Checks a webhook delivery (signature, freshness, replay); undefined when webhooks are off. */
  verifyDelivery(headers: IncomingHttpHeaders, body: Buffer): WebhookVerdict | undefined {
    const verdict = this.webhooks?.verify(headers, body);
    if (verdict) this.metrics.webhookDeliveries.inc({ result: String(verdict.status) });
    return verdict;
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
        maxDeletions: this.config.maxDeletions,
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
      { ok: fullySucceeded(report), report, durationMs },
      { kind: trigger, dryRun: false, models: names },
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

  /** What the page at `/` shows. */
  statusPage(): StatusPageContent {
    const { namespace, owner } = this.config.engine;
    return {
      namespace,
      owner,
      webhook: this.webhookState,
      polling: this.config.deltaPollMs > 0,
      rows: this.lastRows,
      cycles: this.recentCycles,
    };
  }

  /** Keeps a cycle for the page; one of some models only (`models`) replaces only their rows. */
  private remember(
    outcome: CycleOutcome,
    { kind, dryRun, models }: { kind: CycleSummary["kind"]; dryRun: boolean; models?: ReadonlySet<string> },
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
          ...report.withheld.map((w) => `delete ${w.name} (${w.model}@${w.version}) withheld: ${w.reason}`),
        ]
      : [outcome.error ?? "failed"];
    this.recentCycles.unshift({
      kind,
      finishedAt: new Date(),
      ok: outcome.ok,
      dryRun,
      durationMs: outcome.durationMs,
      changes: report?.changes.length ?? 0,
      failures,
    });
    this.recentCycles.length = Math.min(this.recentCycles.length, RECENT_CYCLES);
  }

  /**
   * Registers the service's webhook in MLflow, or brings the one of its name up to date: its URL,
   * events and secret are written every time (MLflow never shows a secret, so a rotated one
   * cannot be compared). Best effort; only the leader calls it. True when the webhook is in place.
   */
  async registerWebhook(): Promise<boolean> {
    const webhook = this.config.webhook;
    if (!webhook?.url) return true;
    const spec = {
      name: `mlflow2seldon-${this.config.engine.owner}`,
      url: webhook.url,
      secret: webhook.secret,
      events: [...WEBHOOK_EVENTS],
    };
    try {
      const existing = (await this.client.listWebhooks()).find((w) => w.name === spec.name);
      if (existing) await this.client.updateWebhook(existing.webhook_id, spec);
      else await this.client.createWebhook(spec);
      this.log.info(
        { name: spec.name, url: spec.url },
        existing ? "webhook in MLflow brought up to date" : "webhook registered in MLflow",
      );
      this.webhookState = { state: "receiving", registered: "by the service" };
      this.metrics.webhookRegistered.set(1);
      return true;
    } catch (error) {
      this.log.warn(
        { err: errorMessage(error) },
        "could not register the webhook in MLflow; changes still arrive by polling",
      );
      this.webhookState = { state: "not registered", reason: errorMessage(error) };
      this.metrics.webhookRegistered.set(0);
      return false;
    }
  }

  private failed(stage: "registry" | "cluster", error: unknown): CycleOutcome {
    this.metrics.cycles.inc({ result: "failure" });
    this.metrics.failures.inc({ stage });
    const context =
      error instanceof RegistryError
        ? { endpoint: error.endpoint, status: error.status }
        : error instanceof ClusterError
          ? { object: error.object, status: error.status }
          : {};
    this.log.error(
      { stage, ...context, err: errorMessage(error) },
      stage === "registry"
        ? "could not read the MLflow registry completely; nothing was changed"
        : "could not read the cluster; nothing was changed",
    );
    return { ok: false, error: errorMessage(error), stage, durationMs: 0 };
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
    for (const withheld of report.withheld) {
      if (!dryRun) this.metrics.deletionsWithheld.inc({ cause: withheld.cause });
      this.log.warn(withheld, `${this.store.target.kind} kept: its deletion is withheld`);
    }
  }

  /** Logs, metrics, Events and write-back of a reconcile's report. */
  private async publish(report: CycleReport, dryRun: boolean): Promise<void> {
    this.record(report, dryRun);
    if (dryRun) return;
    await this.recordEvents(report);
    if (this.config.writeBack) await this.writeBack(report);
  }

  /**
   * One Event per change and per refused write, on the object (best effort). A withheld deletion
   * is reported on every cycle until resolved: on the status page, `status` and a metric, not as
   * an Event per cycle.
   */
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
