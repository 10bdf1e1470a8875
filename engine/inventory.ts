// Which objects belong to whom: the one ownership rule every front uses (the sync service, the
// Pulumi provider and the program). An object is an owner's when it carries both labels; the
// engine lists only those, writes as that owner's field manager, and never takes over a name
// another owner (or a person) holds.
import { ANNOTATIONS, LABELS, MANAGED_BY, type ServingObject } from "./vocabulary";

/** The labels that make an object this owner's. */
export function ownerLabels(owner: string): Record<string, string> {
  return { [LABELS.managedBy]: MANAGED_BY, [LABELS.owner]: owner };
}

export function isOwnedBy(object: { metadata: { labels?: Record<string, string> } }, owner: string): boolean {
  const labels = object.metadata.labels ?? {};
  return Object.entries(ownerLabels(owner)).every(([key, value]) => labels[key] === value);
}

/** Label selector of this owner's objects: the cluster is listed through it. */
export function ownerSelector(owner: string): string {
  return Object.entries(ownerLabels(owner))
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
}

/** Label selector of this owner's objects serving one of `modelLabels` (their model label values). */
export function modelsSelector(owner: string, modelLabels: string[]): string {
  return `${ownerSelector(owner)},${LABELS.model} in (${[...new Set(modelLabels)].join(",")})`;
}

/** Server-side apply field manager of this owner. */
export const fieldManager = (owner: string) => `mlflow2seldon-${owner}`;

/** Why `owner` may not write the object that holds this name, or undefined when it may. */
export function ownershipConflict(live: ServingObject | undefined, owner: string): string | undefined {
  if (!live || isOwnedBy(live, owner)) return undefined;
  const holder = live.metadata.labels?.[LABELS.owner];
  const { namespace, name } = live.metadata;
  return `${live.kind} ${namespace}/${name} exists and is ${holder ? `owned by "${holder}"` : "not managed by mlflow2seldon"}, not by "${owner}"; left untouched`;
}

/** The registered model an object serves, as the engine recorded it. */
export const servedModel = (object: ServingObject): string =>
  object.metadata.annotations?.[ANNOTATIONS.modelName] ?? "";
