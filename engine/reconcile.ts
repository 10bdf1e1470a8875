// One sync cycle, level-triggered: read the registry, plan, compare with the live objects this
// owner labelled, then apply and prune. A registry that cannot be read completely stops the
// cycle before anything is written; objects of other owners are never touched.
import type { SeldonDeploymentStore } from "./cluster";
import { mapLimited, PARALLEL_REQUESTS } from "./concurrency";
import { errorMessage } from "./errors";
import { isOwnedBy, LABELS, ownerSelector, ownershipConflict } from "./inventory";
import { ANNOTATIONS, type SeldonDeployment } from "./manifest";
import { plan, type PlannedDeployment, type PlanProblem, type RegistrySnapshot } from "./planner";
import type { EngineSettings } from "./settings";

export type Action = "create" | "update" | "delete";

/** One object and what it serves. */
export interface SlotObject {
  name: string;
  model: string;
  version: string;
  /** stage:Production or alias:champion */
  slot: string;
}

export interface PlannedChange extends SlotObject {
  action: Action;
  /** The version the live object serves now (updates). */
  previousVersion?: string;
  /** The object's uid once it exists (for Events about it). */
  uid?: string;
}

export interface CycleReport {
  changes: PlannedChange[];
  unchanged: SlotObject[];
  /** Objects the API refused, each with the API server's message. */
  failures: (PlannedChange & { message: string })[];
  /** Slots that could not be planned (their existing objects are kept). */
  problems: PlanProblem[];
  /** Desired names held by an object this owner does not manage (left untouched). */
  conflicts: SlotObject[];
}

/** True when every field of `desired` has the same value in `live` (fields others add are ignored). */
export function isSubset(desired: unknown, live: unknown): boolean {
  if (Array.isArray(desired)) {
    return (
      Array.isArray(live) && live.length === desired.length && desired.every((d, i) => isSubset(d, live[i]))
    );
  }
  if (desired !== null && typeof desired === "object") {
    if (live === null || typeof live !== "object" || Array.isArray(live)) return false;
    const liveRecord = live as Record<string, unknown>;
    return Object.entries(desired).every(([key, value]) => isSubset(value, liveRecord[key]));
  }
  return desired === live;
}

/**
 * True when the live object holds what the engine wants and nothing it once applied and no
 * longer wants: the same applied hash (else server-side apply must run to drop the fields this
 * manager owns and the new object leaves out), and every desired field unchanged (else someone
 * edited a field the engine owns). Fields other managers add are not the engine's concern.
 */
export function matchesLive(desired: SeldonDeployment, live: SeldonDeployment): boolean {
  return (
    live.metadata.annotations?.[ANNOTATIONS.appliedHash] ===
      desired.metadata.annotations[ANNOTATIONS.appliedHash] &&
    isSubset(desired.metadata.labels, live.metadata.labels) &&
    isSubset(desired.metadata.annotations, live.metadata.annotations) &&
    isSubset(desired.spec, live.spec)
  );
}

const uidOf = (object: SeldonDeployment | undefined) =>
  object?.metadata.uid === undefined ? undefined : String(object.metadata.uid);

/** A deletion is described from the live object: what it served, as the engine recorded it. */
function describeDeletion(object: SeldonDeployment): PlannedChange {
  const a = object.metadata.annotations ?? {};
  return {
    uid: uidOf(object),
    action: "delete",
    name: object.metadata.name,
    model: a[ANNOTATIONS.modelName] ?? "",
    version: a[ANNOTATIONS.version] ?? "",
    slot: a[ANNOTATIONS.slot] ?? "",
  };
}

export interface ReconcileOptions {
  store: SeldonDeploymentStore;
  settings: EngineSettings;
  /** Plan only: report the changes without writing. */
  dryRun?: boolean;
  /** This owner's live objects (`listOwned`), listed by the caller before reading the registry. */
  live: SeldonDeployment[];
}

/** The objects among `live` that serve one of `models` (a reconcile of those models alone). */
export const servingModels = (live: SeldonDeployment[], models: ReadonlySet<string>) =>
  live.filter((o) => models.has(o.metadata.annotations?.[ANNOTATIONS.modelName] ?? ""));

/** This owner's objects in its namespace (one LIST by label selector). */
export const listOwned = (store: SeldonDeploymentStore, settings: EngineSettings) =>
  store.list(settings.namespace, ownerSelector(settings.owner));

export async function reconcile(snapshot: RegistrySnapshot, options: ReconcileOptions): Promise<CycleReport> {
  const { store, settings, live } = options;
  const { desired, problems, retainedModels } = plan(snapshot, settings);
  const liveByName = new Map(live.map((o) => [o.metadata.name, o]));
  const report: CycleReport = { changes: [], unchanged: [], failures: [], problems, conflicts: [] };

  const work: { change: PlannedChange; run: () => Promise<SeldonDeployment | void> }[] = [];
  const toCreate: PlannedDeployment[] = [];
  for (const planned of desired) {
    const { object, model, slot, version } = planned;
    const { name } = object.metadata;
    const current = liveByName.get(name);
    if (!current) toCreate.push(planned);
    else if (matchesLive(object, current)) report.unchanged.push({ name, model, slot, version });
    else
      work.push({
        change: {
          action: "update",
          name,
          model,
          slot,
          version,
          previousVersion: current.metadata.labels?.[LABELS.version],
          uid: uidOf(current),
        },
        run: () => store.apply(object),
      });
  }
  // The list holds only this owner's objects: a name to create may be held by someone else, so
  // when there is something to create, one LIST of the whole namespace tells who holds what.
  const holders =
    toCreate.length === 0
      ? new Map()
      : new Map((await store.list(settings.namespace)).map((o) => [o.metadata.name, o]));
  toCreate.forEach(({ object, model, slot, version }) => {
    const { name } = object.metadata;
    if (ownershipConflict(holders.get(name), settings.owner))
      report.conflicts.push({ name, model, slot, version });
    else
      work.push({ change: { action: "create", name, model, slot, version }, run: () => store.apply(object) });
  });
  const desiredNames = new Set(desired.map((d) => d.object.metadata.name));
  for (const object of live) {
    const { name } = object.metadata;
    if (!isOwnedBy(object, settings.owner) || desiredNames.has(name)) continue;
    if (retainedModels.has(object.metadata.labels?.[LABELS.model] ?? "")) continue;
    work.push({ change: describeDeletion(object), run: () => store.delete(settings.namespace, name) });
  }

  if (options.dryRun) {
    report.changes.push(...work.map((w) => w.change));
    return report;
  }
  // Each object succeeds or fails on its own; the report keeps the planned order.
  const outcomes = await mapLimited(work, PARALLEL_REQUESTS, ({ run }) =>
    run().then(
      (applied) => ({ applied: applied || undefined }),
      (error: unknown) => ({ error: errorMessage(error) }),
    ),
  );
  work.forEach(({ change }, i) => {
    const outcome = outcomes[i];
    if ("error" in outcome) report.failures.push({ ...change, message: outcome.error });
    else report.changes.push({ ...change, uid: uidOf(outcome.applied) ?? change.uid });
  });
  return report;
}
