// One sync cycle, level-triggered: read the registry, plan, compare with the live objects this
// owner labelled, then apply and prune. A registry that cannot be read completely stops the
// cycle before anything is written; objects of other owners are never touched.
import { servingView } from "./serving-view";
import type { ServingObjectStore } from "./store";
import { mapLimited, PARALLEL_REQUESTS } from "../concurrency";
import { errorMessage } from "../errors";
import { deletionCapExceeded } from "../deletion";
import { isOwnedBy, modelsSelector, ownerSelector, ownershipConflict, servedModel } from "../inventory";
import { modelLabel } from "../plan/naming";
import { plan, type PlannedDeployment, type PlanProblem } from "../plan/planner";
import type { RegistrySnapshot } from "../registry/slots";
import { describeCandidate } from "../registry/rollout";
import type { EngineSettings } from "../settings";
import { LABELS, ANNOTATIONS, type ServingObject } from "../vocabulary";

export type Action = "create" | "update" | "delete";

/** One object and what it serves. */
export interface SlotObject {
  name: string;
  model: string;
  version: string;
  /** stage:Production or alias:champion */
  slot: string;
  /** The candidate beside the version, e.g. "canary 10% of version 4 (stage:Staging)". */
  candidate?: string;
  /** The serving system's view of the live object (servingView), when it wrote one. */
  serving?: string;
}

const slotObject = ({ object, model, slot, version, candidate }: PlannedDeployment): SlotObject => ({
  name: object.metadata.name,
  model,
  slot,
  version,
  ...(candidate ? { candidate: describeCandidate(candidate) } : {}),
});

export interface PlannedChange extends SlotObject {
  action: Action;
  /** The version the live object serves now (updates). */
  previousVersion?: string;
  /** The object's uid once it exists (for Events about it). */
  uid?: string;
  /** What the API server warned about when it accepted the write (e.g. an admission policy's Warn). */
  warnings?: string[];
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
  /** Objects the plan would delete but the deletion rule keeps, each with why. */
  withheld: WithheldDeletion[];
}

export interface WithheldDeletion extends SlotObject {
  /** unconfirmed: the model's absence was not confirmed; cap: too many deletions in one cycle. */
  cause: "unconfirmed" | "cap";
  reason: string;
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
export function matchesLive(desired: ServingObject, live: ServingObject): boolean {
  return (
    live.metadata.annotations?.[ANNOTATIONS.appliedHash] ===
      desired.metadata.annotations[ANNOTATIONS.appliedHash] &&
    isSubset(desired.metadata.labels, live.metadata.labels) &&
    isSubset(desired.metadata.annotations, live.metadata.annotations) &&
    isSubset(desired.spec, live.spec)
  );
}

const uidOf = (object: ServingObject | undefined) =>
  object?.metadata.uid === undefined ? undefined : String(object.metadata.uid);

/** A deletion is described from the live object: what it served, as the engine recorded it. */
function describeDeletion(object: ServingObject): PlannedChange {
  const a = object.metadata.annotations ?? {};
  return {
    uid: uidOf(object),
    action: "delete",
    name: object.metadata.name,
    model: a[ANNOTATIONS.modelName] ?? "",
    version: a[ANNOTATIONS.version] ?? "",
    slot: a[ANNOTATIONS.slot] ?? "",
    ...(a[ANNOTATIONS.candidate] ? { candidate: a[ANNOTATIONS.candidate] } : {}),
  };
}

export interface ReconcileOptions {
  store: ServingObjectStore;
  settings: EngineSettings;
  /** Plan only: report the changes without writing. */
  dryRun?: boolean;
  /** This owner's live objects (`listOwned`), listed by the caller before reading the registry. */
  live: ServingObject[];
  /** Deletions one call may make; more planned and it makes none (undefined: no cap). */
  maxDeletions?: number;
}

/** This owner's objects in its namespace (one LIST by label selector). */
export const listOwned = (store: ServingObjectStore, settings: EngineSettings) =>
  store.list(settings.namespace, ownerSelector(settings.owner));

/** The same, with the list's resourceVersion (where a watch of the owner's objects can start). */
export const listOwnedAt = (store: ServingObjectStore, settings: EngineSettings) =>
  store.listAt(settings.namespace, ownerSelector(settings.owner));

/** Beyond this many models, a selector naming each would be long: the owner's whole list is read. */
const MODELS_PER_SELECTOR = 50;

/**
 * This owner's objects serving one of `models` (a reconcile of those models alone): one LIST by
 * their model labels, then the exact names (labels are shortened names and may collide).
 */
export async function listServing(
  store: ServingObjectStore,
  settings: EngineSettings,
  models: ReadonlySet<string>,
): Promise<ServingObject[]> {
  const live =
    models.size > MODELS_PER_SELECTOR
      ? await listOwned(store, settings)
      : await store.list(settings.namespace, modelsSelector(settings.owner, [...models].map(modelLabel)));
  return live.filter((o) => models.has(servedModel(o)));
}

/** Beyond this many names, one LIST of the namespace is cheaper than a GET per name. */
const GETS_PER_LIST = 10;

/** The objects holding `names` in the namespace, whoever owns them. */
async function holdersOf(
  store: ServingObjectStore,
  namespace: string,
  names: string[],
): Promise<Map<string, ServingObject>> {
  if (names.length === 0) return new Map();
  if (names.length > GETS_PER_LIST)
    return new Map((await store.list(namespace)).map((o) => [o.metadata.name, o]));
  const found = await mapLimited(names, PARALLEL_REQUESTS, (name) => store.get(namespace, name));
  return new Map(found.flatMap((o) => (o ? [[o.metadata.name, o] as const] : [])));
}

export async function reconcile(snapshot: RegistrySnapshot, options: ReconcileOptions): Promise<CycleReport> {
  const { store, settings, live } = options;
  const { desired, problems, retainedModels } = plan(snapshot, settings);
  const liveByName = new Map(live.map((o) => [o.metadata.name, o]));
  const report: CycleReport = {
    changes: [],
    unchanged: [],
    failures: [],
    problems,
    conflicts: [],
    withheld: [],
  };

  const work: {
    change: PlannedChange;
    run: (onWarning: (message: string) => void) => Promise<ServingObject | void>;
  }[] = [];
  const toCreate: PlannedDeployment[] = [];
  for (const planned of desired) {
    const { object } = planned;
    const current = liveByName.get(object.metadata.name);
    if (!current) toCreate.push(planned);
    // Being deleted (a serving system's finalizer holds it): a write would land on an object
    // about to vanish; it is created again once gone, by the next cycle.
    else if (current.metadata.deletionTimestamp)
      report.failures.push({
        action: "create",
        ...slotObject(planned),
        message: `${object.metadata.name} is still being deleted (deletion requested at ${current.metadata.deletionTimestamp}, finalizers ${JSON.stringify(current.metadata.finalizers ?? [])}); it is created again once gone`,
      });
    else if (matchesLive(object, current)) {
      const serving = servingView(current);
      report.unchanged.push({ ...slotObject(planned), ...(serving ? { serving } : {}) });
    } else
      work.push({
        change: {
          action: "update",
          ...slotObject(planned),
          previousVersion: current.metadata.labels?.[LABELS.version],
          uid: uidOf(current),
        },
        run: (onWarning) => store.apply(object, onWarning),
      });
  }
  // The list holds only this owner's objects: a name to create may be held by someone else.
  const holders = await holdersOf(
    store,
    settings.namespace,
    toCreate.map((p) => p.object.metadata.name),
  );
  toCreate.forEach((planned) => {
    const { object } = planned;
    if (ownershipConflict(holders.get(object.metadata.name), settings.owner))
      report.conflicts.push(slotObject(planned));
    else
      work.push({
        change: { action: "create", ...slotObject(planned) },
        run: (onWarning) => store.apply(object, onWarning),
      });
  });
  const desiredNames = new Set(desired.map((d) => d.object.metadata.name));
  const unconfirmed = new Map(snapshot.unconfirmed.map((u) => [u.model, u.reason]));
  const deletions: typeof work = [];
  for (const object of live) {
    const { name } = object.metadata;
    if (!isOwnedBy(object, settings.owner) || desiredNames.has(name)) continue;
    // Already being deleted: deleting again would be a write for nothing (and count against the cap).
    if (object.metadata.deletionTimestamp) continue;
    if (retainedModels.has(object.metadata.labels?.[LABELS.model] ?? "")) continue;
    const change = describeDeletion(object);
    const reason = unconfirmed.get(servedModel(object));
    if (reason !== undefined) report.withheld.push({ ...change, cause: "unconfirmed", reason });
    // The uid precondition: only the object listed is deleted, never one created in its place since.
    else deletions.push({ change, run: () => store.delete(settings.namespace, name, change.uid) });
  }
  const overCap = deletionCapExceeded(deletions.length, options.maxDeletions);
  if (overCap)
    report.withheld.push(
      ...deletions.map(({ change }) => ({ ...change, cause: "cap" as const, reason: overCap })),
    );
  else work.push(...deletions);

  if (options.dryRun) {
    report.changes.push(...work.map((w) => w.change));
    return report;
  }
  // Each object succeeds or fails on its own; the report keeps the planned order.
  const outcomes = await mapLimited(work, PARALLEL_REQUESTS, ({ run }) => {
    const warnings: string[] = [];
    return run((message) => warnings.push(message)).then(
      (applied) => ({ applied: applied || undefined, warnings }),
      (error: unknown) => ({ error: errorMessage(error) }),
    );
  });
  work.forEach(({ change }, i) => {
    const outcome = outcomes[i];
    if ("error" in outcome) report.failures.push({ ...change, message: outcome.error });
    else
      report.changes.push({
        ...change,
        uid: uidOf(outcome.applied) ?? change.uid,
        ...(outcome.warnings.length > 0 ? { warnings: outcome.warnings } : {}),
      });
  });
  return report;
}
