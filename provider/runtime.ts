// The dynamic providers, loaded by the dynamic provider process through load-runtime.cjs (see
// dynamic-resource.ts): the ModelDeploymentGroup's input validation, diff, and create/read/
// update/delete through the engine's applier here, the MlflowWebhook's in webhook-runtime.ts. One
// provider process serves many resources, so it keeps one Kubernetes client per cluster.
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { ServingObjectStore, kubeClient } from "../engine/apply/store";
import type { KubeClient } from "../engine/kube/client";
import { mapLimited, PARALLEL_REQUESTS } from "../engine/concurrency";
import { errorMessage } from "../engine/errors";
import { fieldManager, isOwnedBy, ownershipConflict } from "../engine/inventory";
import { digestOf } from "../engine/digest";
import { targetOf, TARGETS } from "../engine/serving-targets";
import { dns1123Label } from "../engine/settings";
import { ANNOTATIONS, LABELS, MANAGED_BY, type ServingObject } from "../engine/vocabulary";

export * from "./webhook-runtime";

const servingManifestSchema = z
  .object({
    apiVersion: z.string(),
    kind: z.string(),
    metadata: z.looseObject({
      name: dns1123Label,
      namespace: dns1123Label,
      labels: z.record(z.string(), z.string()).refine((l) => l[LABELS.managedBy] === MANAGED_BY, {
        message: `must carry ${LABELS.managedBy}=${MANAGED_BY}`,
      }),
      annotations: z.record(z.string(), z.string()),
    }),
    spec: z.record(z.string(), z.unknown()),
  })
  // The pair names the target, and so the API path the object is written to.
  .refine((manifest) => targetOf(manifest) !== undefined, {
    path: ["kind"],
    message: `apiVersion and kind of a serving target: ${Object.values(TARGETS)
      .map((t) => `${t.apiVersion} ${t.kind}`)
      .join(", ")}`,
  });

/** One served slot of a group: what preview shows of it, and the serving object the engine planned. */
const servedSlotSchema = z.object({
  model: z.string().min(1),
  slot: z.string().min(1),
  version: z.string().regex(/^\d+$/, "an MLflow version number"),
  candidate: z.string().min(1).optional(),
  manifest: servingManifestSchema,
});
/** A served slot as the program declares it and the state keeps it: JSON text, one value per slot. */
const servedSlotTextSchema = z
  .string()
  .transform((text, context) => {
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      context.addIssue({ code: "custom", message: `JSON text of a served slot: ${String(error)}` });
      return z.NEVER;
    }
  })
  .pipe(servedSlotSchema);
export type ServedSlot = z.output<typeof servedSlotSchema>;

/** The inputs that are not slots; every other input is one slot under its object's name. */
const groupControlSchema = z.object({
  group: z.string().min(1),
  owner: z.string().min(1),
  kubeContext: z.string().optional(),
  kubeconfig: z.string().optional(),
});
const CONTROL_INPUTS = new Set([...Object.keys(groupControlSchema.shape), "__provider"]);

/** The inputs as the program declares them: the control inputs and each slot's JSON text. */
export type ModelDeploymentGroupInputs = z.input<typeof groupControlSchema> &
  Record<string, string | undefined>;
/** The inputs once checked: each slot parsed, by object name. */
export type ParsedGroupInputs = z.output<typeof groupControlSchema> & { slots: Map<string, ServedSlot> };

/** What the state keeps of one applied object: what read and delete need, and two digests. */
export interface AppliedObject {
  apiVersion: string;
  kind: string;
  namespace: string;
  uid: string;
  /** Digest of the slot last applied (with the kube context; the kubeconfig is compared as itself). */
  appliedDigest: string;
  /** Digest of the object's labels, annotations and spec as the API server last returned them. */
  liveDigest: string;
}

/** What the state keeps of a group besides its inputs: its objects by name, not a second copy of them. */
export interface ModelDeploymentGroupOutputs extends z.output<typeof groupControlSchema> {
  objects: Record<string, AppliedObject>;
}

interface CheckFailure {
  property: string;
  reason: string;
}

function parseGroupInputs(raw: Record<string, unknown>): {
  parsed?: ParsedGroupInputs;
  failures: CheckFailure[];
} {
  const failures: CheckFailure[] = [];
  const fail = (property: string) => (issue: z.core.$ZodIssue) =>
    failures.push({
      property: [property, ...issue.path].filter((p) => p !== "").join("."),
      reason: issue.message,
    });
  const control = groupControlSchema.safeParse(raw);
  if (!control.success) control.error.issues.forEach(fail(""));
  const slots = new Map<string, ServedSlot>();
  for (const [name, value] of Object.entries(raw)) {
    if (CONTROL_INPUTS.has(name) || value === undefined) continue;
    const slot = servedSlotTextSchema.safeParse(value);
    if (!slot.success) {
      slot.error.issues.forEach(fail(name));
      continue;
    }
    const { metadata } = slot.data.manifest;
    if (metadata.name !== name)
      failures.push({ property: name, reason: `names the object ${metadata.name}` });
    else if (control.success && metadata.labels[LABELS.owner] !== control.data.owner)
      failures.push({
        property: name,
        reason: `label ${LABELS.owner} must equal owner "${control.data.owner}"`,
      });
    else slots.set(name, slot.data);
  }
  return {
    parsed: control.success && failures.length === 0 ? { ...control.data, slots } : undefined,
    failures,
  };
}

export function checkGroupInputs(news: Record<string, unknown>): pulumi.dynamic.CheckResult {
  const { failures } = parseGroupInputs(news);
  return failures.length > 0 ? { failures } : { inputs: news, failures: [] };
}

/** Inputs that passed check, parsed; a failure here is a bug, named all the same. */
function checkedGroupInputs(news: Record<string, unknown>): ParsedGroupInputs {
  const { parsed, failures } = parseGroupInputs(news);
  if (!parsed) throw new Error(failures.map((f) => `${f.property}: ${f.reason}`).join("; "));
  return parsed;
}

// The declared slot only: what Pulumi adds (the provider module, by a path that differs between
// checkouts) is not a change of the deployment.
const appliedDigestOf = (slot: ServedSlot, kubeContext: string | undefined) =>
  digestOf({ ...slot, kubeContext });
const liveDigestOf = (object: ServingObject) =>
  digestOf({
    labels: object.metadata.labels ?? {},
    annotations: object.metadata.annotations ?? {},
    spec: object.spec,
  });

/** The slots to apply: new ones, changed ones (or all, for a new kubeconfig or owner). */
function slotsToApply(olds: ModelDeploymentGroupOutputs | undefined, news: ParsedGroupInputs) {
  const all = !olds || olds.owner !== news.owner || (olds.kubeconfig ?? "") !== (news.kubeconfig ?? "");
  return [...news.slots].filter(
    ([name, slot]) => all || olds.objects[name]?.appliedDigest !== appliedDigestOf(slot, news.kubeContext),
  );
}

/** Objects of the last apply that the new inputs no longer declare as they are (gone, or another kind or namespace). */
function objectsToDelete(olds: ModelDeploymentGroupOutputs, news: ParsedGroupInputs) {
  return Object.entries(olds.objects).filter(([name, object]) => {
    const manifest = news.slots.get(name)?.manifest;
    return !manifest || manifest.kind !== object.kind || manifest.metadata.namespace !== object.namespace;
  });
}

/**
 * An update in place whenever a slot is added, changed or removed (or the cluster credentials
 * change); never a replacement: a group's identity is its name, and the slots it serves come and go.
 */
export function diffGroupInputs(
  olds: ModelDeploymentGroupOutputs,
  news: Record<string, unknown>,
): pulumi.dynamic.DiffResult {
  const parsed = checkedGroupInputs(news);
  return { changes: slotsToApply(olds, parsed).length > 0 || objectsToDelete(olds, parsed).length > 0 };
}

const clients = new Map<string, KubeClient>();

/** One client (one connection pool, one exec-plugin credential) per cluster for the process. */
function clusterClient(cluster: Pick<ParsedGroupInputs, "kubeContext" | "kubeconfig">): KubeClient {
  const key = JSON.stringify([cluster.kubeContext ?? "", cluster.kubeconfig ?? ""]);
  let client = clients.get(key);
  if (!client) {
    client = kubeClient({ context: cluster.kubeContext, kubeconfigContent: cluster.kubeconfig });
    clients.set(key, client);
  }
  return client;
}

type Cluster = Pick<ParsedGroupInputs, "kubeContext" | "kubeconfig" | "owner">;

function store(cluster: Cluster, object: Pick<AppliedObject, "apiVersion" | "kind">): ServingObjectStore {
  const target = targetOf(object);
  if (!target) throw new Error(`no serving target writes ${object.apiVersion} ${object.kind}`);
  return new ServingObjectStore(clusterClient(cluster), target, fieldManager(cluster.owner));
}

async function applySlot(
  cluster: Cluster,
  group: string,
  slot: ServedSlot,
  appliedDigest: string,
): Promise<AppliedObject> {
  const planned = slot.manifest as ServingObject;
  const { apiVersion, kind } = planned;
  const { namespace, name } = planned.metadata;
  const objects = store(cluster, planned);
  // The same rule as the service's; a slot cannot be skipped, so the conflict fails the group.
  const conflict = ownershipConflict(await objects.get(namespace, name), cluster.owner);
  if (conflict) throw new Error(conflict);
  const applied = await objects.apply({
    ...planned,
    metadata: {
      ...planned.metadata,
      annotations: { ...planned.metadata.annotations, [ANNOTATIONS.pulumiGroup]: group },
    },
  });
  return {
    apiVersion,
    kind,
    namespace,
    uid: String(applied.metadata.uid ?? ""),
    appliedDigest,
    liveDigest: liveDigestOf(applied),
  };
}

/** Deletes the object (only if it is ours) and waits until the API no longer returns it. */
async function deleteObject(
  cluster: Cluster,
  name: string,
  object: Pick<AppliedObject, "apiVersion" | "kind" | "namespace">,
  timeoutMs: number,
) {
  const objects = store(cluster, object);
  const live = await objects.get(object.namespace, name);
  if (!live) return;
  const conflict = ownershipConflict(live, cluster.owner);
  if (conflict) throw new Error(conflict);
  await objects.delete(object.namespace, name);
  const deadline = Date.now() + timeoutMs;
  while (await objects.get(object.namespace, name)) {
    if (Date.now() > deadline)
      throw new Error(`${object.kind} ${object.namespace}/${name} still exists after ${timeoutMs / 1000}s`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Runs `work` on every item, PARALLEL_REQUESTS at a time, to the end; then names every failure. */
async function eachSettled<T>(
  what: string,
  items: T[],
  label: (item: T) => string,
  work: (item: T) => Promise<void>,
) {
  const failures: string[] = [];
  await mapLimited(items, PARALLEL_REQUESTS, async (item) => {
    try {
      await work(item);
    } catch (error) {
      failures.push(`${label(item)}: ${errorMessage(error)}`);
    }
  });
  if (failures.length > 0)
    throw new Error(`${what}: ${failures.length} of ${items.length} failed: ${failures.join("; ")}`);
}

const slotLabel = ([name, slot]: [string, ServedSlot]) => `${slot.model} ${slot.slot} (${name})`;

/**
 * Applies the group's new and changed slots, then, only if every apply succeeded, deletes the
 * objects it no longer declares. A failure leaves the state as it was, so the next up tries
 * the same work again: applies and deletes are idempotent.
 */
export async function applyGroup(
  news: ParsedGroupInputs,
  olds?: ModelDeploymentGroupOutputs,
  timeoutMs = 120_000,
): Promise<ModelDeploymentGroupOutputs> {
  const applied = new Map<string, AppliedObject>();
  await eachSettled(
    `applying group ${news.group}`,
    slotsToApply(olds, news),
    slotLabel,
    async ([name, slot]) => {
      applied.set(name, await applySlot(news, news.group, slot, appliedDigestOf(slot, news.kubeContext)));
    },
  );
  if (olds) {
    await eachSettled(
      `deleting from group ${news.group}`,
      objectsToDelete(olds, news),
      ([name]) => name,
      ([name, object]) => deleteObject(olds, name, object, timeoutMs),
    );
  }
  const objects: Record<string, AppliedObject> = {};
  for (const name of [...news.slots.keys()].sort()) objects[name] = applied.get(name) ?? olds!.objects[name];
  return {
    group: news.group,
    owner: news.owner,
    ...(news.kubeContext === undefined ? {} : { kubeContext: news.kubeContext }),
    ...(news.kubeconfig === undefined ? {} : { kubeconfig: news.kubeconfig }),
    objects,
  };
}

/**
 * The objects as the cluster has them: one gone (or no longer ours) leaves the group's outputs,
 * so the next up applies it again; labels, annotations or spec other than the API server returned
 * at the last apply are drift, which clears the applied digest to the same end.
 */
export async function readGroup(
  id: string,
  props: ModelDeploymentGroupOutputs,
): Promise<pulumi.dynamic.ReadResult> {
  const objects: Record<string, AppliedObject> = {};
  await mapLimited(Object.entries(props.objects), PARALLEL_REQUESTS, async ([name, object]) => {
    const live = await store(props, object).get(object.namespace, name);
    if (!live || !isOwnedBy(live, props.owner)) return;
    const liveDigest = liveDigestOf(live);
    objects[name] = {
      ...object,
      uid: String(live.metadata.uid ?? ""),
      liveDigest,
      appliedDigest: liveDigest === object.liveDigest ? object.appliedDigest : "",
    };
  });
  return { id, props: { ...props, objects } };
}

/** Deletes every object of the group that is ours, and waits until they are gone. */
export async function deleteGroup(props: ModelDeploymentGroupOutputs, timeoutMs = 120_000): Promise<void> {
  await eachSettled(
    `deleting group ${props.group}`,
    Object.entries(props.objects),
    ([name]) => name,
    ([name, object]) => deleteObject(props, name, object, timeoutMs),
  );
}

export const modelDeploymentGroupProvider: pulumi.dynamic.ResourceProvider<
  ModelDeploymentGroupInputs,
  ModelDeploymentGroupOutputs
> = {
  check: async (_olds, news) =>
    checkGroupInputs(news) as pulumi.dynamic.CheckResult<ModelDeploymentGroupInputs>,
  // Olds are the state's outputs: the digests, not the old inputs. News have passed check.
  diff: async (_id, olds, news) => diffGroupInputs(olds, news),
  create: async (inputs) => {
    const parsed = checkedGroupInputs(inputs);
    return { id: `${parsed.owner}/${parsed.group}`, outs: await applyGroup(parsed) };
  },
  update: async (_id, olds, news) => ({ outs: await applyGroup(checkedGroupInputs(news), olds) }),
  read: async (id, props) =>
    readGroup(id, props!) as Promise<pulumi.dynamic.ReadResult<ModelDeploymentGroupOutputs>>,
  delete: async (_id, props) => deleteGroup(props),
};

/** What a ModelDeployment kept in its outputs that its delete needs. */
type LegacyDeploymentOutputs = Cluster & Pick<AppliedObject, "apiVersion" | "kind" | "namespace">;

/**
 * Stacks made before groups hold a `ModelDeployment` resource per slot. The first up with groups
 * registers the groups, which apply their objects, and then deletes the old resources: an object
 * a group now serves carries the group's annotation, so the old resource leaves it; any other (a
 * slot no longer served, or every object in a destroy) it deletes, as it always did.
 */
export const modelDeploymentProvider: pulumi.dynamic.ResourceProvider = {
  create: async () => {
    throw new Error("ModelDeployment is no longer created: a ModelDeploymentGroup serves each slot");
  },
  delete: async (id: string, props: LegacyDeploymentOutputs) => {
    const name = id.split("/")[1];
    const live = await store(props, props).get(props.namespace, name);
    if (live?.metadata.annotations?.[ANNOTATIONS.pulumiGroup]) return;
    await deleteObject(props, name, props, 120_000);
  },
};
