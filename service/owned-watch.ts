// A watch on this owner's SeldonDeployments, so a hand edit or deletion is repaired in a second or
// two instead of at the next full read. It tells an edit from the echo of the service's own writes
// by what the service last saw of each object (from its lists and its writes): a change of the
// spec (generation), labels or annotations is someone else's; a status update is not. An event
// for an object while the service is writing it is taken as that write's echo, since it can
// arrive before the write's response does (a concurrent edit is overwritten by that write anyway). Bookmarks
// keep the resume point fresh; a resume point the server no longer has (410) means listing again
// and comparing, since events may have been missed.
import { setTimeout as sleep } from "node:timers/promises";
import type { ServingObjectStore, WriteObserver } from "../engine/apply/store";
import { ClusterError, errorMessage } from "../engine/errors";
import { ownerSelector } from "../engine/inventory";
import type { EngineSettings } from "../engine/settings";
import type { Logger } from "./logger";
import { ANNOTATIONS, type ServingObject } from "../engine/vocabulary";

interface Seen {
  generation: unknown;
  /** Labels and annotations, as one string to compare. */
  meta: string;
  model: string;
}

const seenOf = (object: ServingObject): Seen => ({
  generation: object.metadata.generation,
  meta: JSON.stringify([object.metadata.labels ?? {}, object.metadata.annotations ?? {}]),
  model: object.metadata.annotations?.[ANNOTATIONS.modelName] ?? "",
});

const RETRY_MS = 2_000;

export class OwnedObjectsWatch implements WriteObserver {
  private seen = new Map<string, Seen>();
  /** Names with writes in flight, and how many. */
  private writes = new Map<string, number>();
  private resourceVersion = "";

  constructor(
    private readonly store: ServingObjectStore,
    private readonly settings: EngineSettings,
    /** A model whose object someone else changed or deleted: reconcile it. */
    private readonly onDrift: (model: string, object: string) => void,
    private readonly log: Logger,
  ) {}

  writing(name: string): void {
    this.writes.set(name, (this.writes.get(name) ?? 0) + 1);
  }

  written(name: string, object: ServingObject | undefined | null): void {
    const left = (this.writes.get(name) ?? 1) - 1;
    if (left > 0) this.writes.set(name, left);
    else this.writes.delete(name);
    if (object) this.seen.set(name, seenOf(object));
    else if (object === undefined) this.seen.delete(name);
  }

  /** The owner's objects as a full read listed them; the first list is where the watch starts. */
  listed(objects: ServingObject[], resourceVersion: string): void {
    this.seen = new Map(objects.map((o) => [o.metadata.name, seenOf(o)]));
    this.resourceVersion ||= resourceVersion;
  }

  /** Watches until `signal` aborts; reconnects from the last resource version, relists after a 410. */
  async run(signal: AbortSignal): Promise<void> {
    const { namespace, owner } = this.settings;
    while (!signal.aborted) {
      try {
        if (!this.resourceVersion) await this.relist();
        await this.store.watch(
          namespace,
          ownerSelector(owner),
          this.resourceVersion,
          (type, object) => this.event(type, object),
          signal,
        );
      } catch (error) {
        if (signal.aborted) break;
        if (error instanceof ClusterError && error.status === 410) this.resumePointExpired();
        else {
          this.log.warn({ err: errorMessage(error) }, "watch of the owned objects failed; retrying");
          await sleep(RETRY_MS, undefined, { signal }).catch(() => undefined);
        }
      }
    }
  }

  /** The server no longer has the resume point: events may have been missed, so list again. */
  private resumePointExpired(): void {
    this.log.info(
      { resourceVersion: this.resourceVersion },
      "the watch's resume point has expired (410): listing the owned objects again",
    );
    this.resourceVersion = "";
  }

  /** Lists again and reports what changed while nothing was watched. */
  private async relist(): Promise<void> {
    const { namespace, owner } = this.settings;
    const { items, resourceVersion } = await this.store.listAt(namespace, ownerSelector(owner));
    const now = new Map(items.map((o) => [o.metadata.name, seenOf(o)]));
    for (const [name, before] of this.seen) {
      const after = now.get(name);
      if (!after || after.generation !== before.generation || after.meta !== before.meta)
        this.onDrift(before.model, name);
    }
    this.seen = now;
    this.resourceVersion = resourceVersion;
  }

  private event(type: string, object: ServingObject): void {
    if (type === "ERROR") {
      // The server ends the watch after this; 410: resume from a fresh list.
      if ((object as unknown as { code?: number }).code === 410) this.resumePointExpired();
      return;
    }
    const version = object.metadata.resourceVersion;
    if (typeof version === "string" && version) this.resourceVersion = version;
    const name = object.metadata.name;
    const before = this.seen.get(name);
    // Unknown objects are ones this service is creating (its write records them) or not its own.
    if (!before || type === "ADDED" || type === "BOOKMARK" || this.writes.has(name)) return;
    if (type === "DELETED") {
      this.seen.delete(name);
      this.onDrift(before.model, name);
      return;
    }
    const after = seenOf(object);
    if (after.generation === before.generation && after.meta === before.meta) return; // status only
    this.seen.set(name, after);
    this.onDrift(before.model, name);
  }
}
