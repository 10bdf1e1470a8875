// When the sync service's cycles run: full reads on an interval with jitter (backing off while
// they fail, paced by their cost when delta polls run between them), delta polls, and targeted
// reconciles of the models that webhook deliveries, the watch and the rolling read of the
// registry name, coalesced while queued. One cycle at a time. On SIGTERM no new work starts, the
// cycle in progress ends (with leader election its writes stop at once), and only then is the
// lease released.
import type { IncomingHttpHeaders } from "node:http";
import { pause } from "../engine/concurrency";
import type { Logger } from "./logger";
import type { CycleOutcome, SyncService } from "./sync-service";

/** With delta polling, full reads take at most 1/20 of the time (at least the interval apart). */
const FULL_READ_COST_FACTOR = 20;
/** Without webhook deliveries, the rolling read takes a page every this many delta poll periods. */
const ROLLING_READ_POLL_PERIODS = 5;

/** An answer to a webhook delivery: a status and a short text. */
export interface DeliveryAnswer {
  status: number;
  text: string;
}

export class Scheduler {
  /** One reconcile at a time (full, delta, targeted): each waits for the one before. */
  private turn: Promise<unknown> = Promise.resolve();
  /** Models named by webhook deliveries or drift, not yet reconciled: a burst is one reconcile. */
  private readonly pendingModels = new Set<string>();
  private draining = false;
  private stopping = false;
  private consecutiveFailures = 0;
  private lastFullReadMs = 0;
  /** Whether this leadership term registered the MLflow webhook. */
  private webhookRegistered = false;

  constructor(
    private readonly service: SyncService,
    private readonly log: Logger,
  ) {
    service.handleDrift((model) => this.queueModel(model));
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const result = this.turn.then(work);
    this.turn = result.catch(() => undefined);
    return result;
  }

  /**
   * Delay before the next full read: the interval with jitter, or exponential backoff after
   * failures. With delta polling, full reads are the safety net, paced by their measured cost.
   */
  nextDelayMs(random: () => number = Math.random): number {
    const { intervalMs, jitter, maxBackoffMs, deltaPollMs } = this.service.config;
    const paced =
      deltaPollMs > 0 ? Math.max(intervalMs, FULL_READ_COST_FACTOR * this.lastFullReadMs) : intervalMs;
    const base =
      this.consecutiveFailures === 0
        ? paced
        : Math.min(maxBackoffMs, intervalMs * 2 ** this.consecutiveFailures);
    return Math.round(base * (1 + jitter * (2 * random() - 1)));
  }

  /** One full read, counted for the backoff and pacing of the next. */
  async fullRead(): Promise<CycleOutcome> {
    const outcome = await this.exclusive(() => this.service.runCycle());
    this.lastFullReadMs = outcome.durationMs;
    this.consecutiveFailures = outcome.ok ? 0 : this.consecutiveFailures + 1;
    if (!outcome.ok) this.log.debug({ consecutiveFailures: this.consecutiveFailures }, "full read not ok");
    return outcome;
  }

  /**
   * Runs until `signal` aborts: leader election, full reads, delta polls between them (after a
   * successful full read, which they compare with), and the watch once the first full read is in.
   */
  async run(signal: AbortSignal): Promise<void> {
    const { leader, config } = this.service;
    // The lease outlives `signal`: it is released only after the last write has ended.
    const election = new AbortController();
    const electing = leader?.run(election.signal);
    const stop = () => {
      this.stopping = true;
      this.service.stopWriting();
      this.log.info("stopping: no new work starts; the cycle in progress ends first");
    };
    signal.addEventListener("abort", stop, { once: true });
    let watching: Promise<void> | undefined;
    let rolling: Promise<void> | undefined;
    try {
      while (!signal.aborted) {
        if (!this.service.leading()) {
          // A standby reads nothing and writes nothing; it checks again every retry period.
          this.webhookRegistered = false;
          await pause(config.leaderElection!.retryPeriodMs, signal);
          continue;
        }
        if (!this.webhookRegistered) this.webhookRegistered = await this.service.registerWebhook();
        await this.fullRead();
        if (signal.aborted) break;
        // The watch starts after the first full read, which tells it what the objects should be.
        watching ??= this.service.ownedWatch?.run(signal);
        rolling ??= this.readPagesInTurn(signal);
        await this.pollUntilNextFullRead(signal);
      }
    } finally {
      signal.removeEventListener("abort", stop);
      await this.turn;
      await watching;
      await rolling;
      election.abort();
      await electing;
    }
  }

  /** Waits for the next full read, polling the registry's recent changes meanwhile. */
  private async pollUntilNextFullRead(signal: AbortSignal): Promise<void> {
    const { config } = this.service;
    const delay = this.nextDelayMs();
    this.log.debug({ delayMs: delay }, "next full read scheduled");
    this.service.metrics.fullReadInterval.set(delay / 1000);
    const due = Date.now() + delay;
    const polling = config.deltaPollMs > 0 && this.service.registryRead;
    while (!signal.aborted && Date.now() < due) {
      await pause(Math.min(polling ? config.deltaPollMs : Infinity, due - Date.now()), signal);
      if (!this.service.leading() || signal.aborted || !polling || Date.now() >= due) break;
      // More changed than one poll can tell: a full read now.
      if ((await this.exclusive(() => this.service.deltaCycle())) === "overflow") break;
    }
  }

  /**
   * Without webhook deliveries, reads the registry one page at a time, in turn, and queues the
   * models whose record changed (an alias move, a tag) as a delivery would: every model is seen
   * again within (models / 1,000) × 5 delta poll periods. It runs beside the polls, not in their
   * turn, so a large page never holds up a promotion; off with the delta poll.
   */
  private async readPagesInTurn(signal: AbortSignal): Promise<void> {
    const { deltaPollMs } = this.service.config;
    if (deltaPollMs <= 0) return;
    while (!signal.aborted) {
      await pause(ROLLING_READ_POLL_PERIODS * deltaPollMs, signal);
      if (signal.aborted || this.stopping || !this.service.leading() || !this.service.needsRollingRead())
        continue;
      for (const model of await this.service.rollingRead()) this.queueModel(model);
    }
  }

  /**
   * Whether a webhook delivery is taken, decided before its body is read: 404 when webhooks are
   * off, 503 on a standby or while stopping (MLflow retries; a retry may reach the leader, and
   * the poll and the full read cover one that never does); undefined when it is.
   */
  admitDelivery(): DeliveryAnswer | undefined {
    if (!this.service.config.webhook) return { status: 404, text: "webhooks are off" };
    if (this.stopping) return { status: 503, text: "stopping" };
    if (!this.service.leading())
      return { status: 503, text: "standby replica: the leader receives deliveries" };
    return undefined;
  }

  /**
   * Answers an admitted delivery at once (202, or why it is refused); the model it names is read
   * from MLflow and reconciled right after, deliveries that arrive meanwhile coalescing.
   */
  receiveDelivery(headers: IncomingHttpHeaders, body: Buffer): DeliveryAnswer {
    const refused = this.admitDelivery();
    if (refused) return refused;
    const verdict = this.service.verifyDelivery(headers, body)!;
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
    if (this.stopping || !this.service.manages(model) || !this.service.leading()) return;
    this.pendingModels.add(model);
    if (!this.draining) void this.drainQueuedModels();
  }

  private async drainQueuedModels(): Promise<void> {
    this.draining = true;
    try {
      while (this.pendingModels.size > 0 && !this.stopping) {
        const names = new Set(this.pendingModels);
        this.pendingModels.clear();
        await this.exclusive(() => this.service.targetedCycle(names));
      }
    } finally {
      this.draining = false;
    }
  }
}
