// Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics: the holder renews
// every retry period; a candidate takes the lease only when it has not seen it renewed for a lease
// duration (by its own clock, so clocks need not agree); a leader that cannot renew within the
// renew deadline stops leading. Updates carry the resourceVersion they read, so two candidates
// can never both win. Releasing (on SIGTERM) empties the holder so a standby takes over at once.
// Durations are measured on the monotonic clock: a wall-clock step on a node changes nothing.
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { errorMessage } from "../engine/errors";
import { KubeApiError, type KubeClient } from "../engine/kube/client";
import type { Logger } from "./logger";

export interface LeaderElectionSettings {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

const leaseSchema = z.object({
  metadata: z.looseObject({ resourceVersion: z.string().optional() }),
  spec: z
    .object({
      holderIdentity: z.string().nullish(),
      leaseDurationSeconds: z.number().nullish(),
      leaseTransitions: z.number().nullish(),
      acquireTime: z.string().nullish(),
      renewTime: z.string().nullish(),
    })
    .default({}),
});
type Lease = z.infer<typeof leaseSchema>;

/** Lease times are RFC 3339 with microseconds (MicroTime). */
const microTime = (ms: number) => new Date(ms).toISOString().replace("Z", "000Z");

export class LeaderElector {
  private leading = false;
  private lastRenewMs = 0;
  /** The lease record last read and when this process first saw it (its own monotonic clock). */
  private observed?: { key: string; atMs: number };

  constructor(
    private readonly client: KubeClient,
    private readonly settings: LeaderElectionSettings,
    private readonly log: Logger,
    private readonly onChange: (leading: boolean) => void = () => {},
  ) {}

  private get path() {
    const { namespace, name } = this.settings;
    return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases/${encodeURIComponent(name)}`;
  }

  /** True while this process holds the lease and renewed it within the renew deadline. */
  holdsLease(): boolean {
    return this.leading && performance.now() - this.lastRenewMs < this.settings.renewDeadlineMs;
  }

  /** Whether this process holds the lease within `timeoutMs` (while `run` is electing). */
  async leadingWithin(timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (!this.holdsLease() && performance.now() < deadline) await sleep(100);
    return this.holdsLease();
  }

  /** Tries to acquire or renew every retry period until `signal` aborts, then releases the lease. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.tryAcquireOrRenew();
      } catch (error) {
        this.log.warn({ err: errorMessage(error) }, "lease update failed");
      }
      if (this.leading && !this.holdsLease()) this.setLeading(false);
      await sleep(this.settings.retryPeriodMs, undefined, { signal }).catch(() => undefined);
    }
    await this.release();
  }

  private async tryAcquireOrRenew(): Promise<void> {
    // Timestamps written in the Lease are wall-clock (for people and other clients); every
    // duration this process measures is monotonic.
    const now = performance.now();
    const wallNow = Date.now();
    const { identity, leaseDurationMs } = this.settings;
    const existing = await this.read();
    const spec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
      renewTime: microTime(wallNow),
    };
    if (!existing) {
      await this.client.request("POST", this.path.replace(/\/[^/]+$/, ""), {
        body: {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: this.settings.name, namespace: this.settings.namespace },
          spec: { ...spec, acquireTime: microTime(wallNow), leaseTransitions: 0 },
        },
      });
      return this.renewed(now);
    }
    const holder = existing.spec.holderIdentity ?? "";
    // Someone else's lease is valid until this process has not seen it change for its duration.
    const key = JSON.stringify([holder, existing.spec.renewTime, existing.metadata.resourceVersion]);
    if (this.observed?.key !== key) this.observed = { key, atMs: now };
    const expired = now - this.observed.atMs > (existing.spec.leaseDurationSeconds ?? 0) * 1000;
    if (holder !== identity && holder !== "" && !expired) {
      if (this.leading) this.setLeading(false);
      return;
    }
    const takeover = holder !== identity;
    await this.update(existing, {
      ...spec,
      ...(takeover
        ? { acquireTime: microTime(wallNow), leaseTransitions: (existing.spec.leaseTransitions ?? 0) + 1 }
        : {}),
    });
    this.renewed(now);
  }

  private renewed(atMs: number): void {
    this.lastRenewMs = atMs;
    if (!this.leading) this.setLeading(true);
  }

  private setLeading(leading: boolean): void {
    this.leading = leading;
    this.log.info(
      { identity: this.settings.identity, lease: this.settings.name },
      leading ? "leading" : "not leading",
    );
    this.onChange(leading);
  }

  /** Replaces the lease's spec fields, only if it is still the version read (optimistic concurrency). */
  private async update(existing: Lease, spec: Partial<Lease["spec"]>): Promise<void> {
    await this.client.request("PUT", this.path, {
      body: {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: {
          name: this.settings.name,
          namespace: this.settings.namespace,
          resourceVersion: existing.metadata.resourceVersion,
        },
        spec: { ...existing.spec, ...spec },
      },
    });
  }

  private async read(): Promise<Lease | undefined> {
    try {
      return leaseSchema.parse(await this.client.request("GET", this.path));
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 404) return undefined;
      throw error;
    }
  }

  /** Gives the lease up (holder emptied, 1 s duration) so a standby takes over without waiting. */
  private async release(): Promise<void> {
    if (!this.leading) return;
    this.setLeading(false);
    try {
      const existing = await this.read();
      if (existing?.spec.holderIdentity !== this.settings.identity) return;
      await this.update(existing, {
        holderIdentity: "",
        leaseDurationSeconds: 1,
        renewTime: microTime(Date.now()),
      });
    } catch (error) {
      this.log.warn({ err: errorMessage(error) }, "could not release the lease");
    }
  }
}
