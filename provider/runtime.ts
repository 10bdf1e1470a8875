// What the dynamic providers do, as plain functions: the ModelDeployment's input validation,
// diff, and create/read/update/delete effects through the engine's applier here, the
// MlflowWebhook's in webhook-runtime.ts. The serialized providers load this module by its
// absolute path; one provider process serves many resources, so it keeps one Kubernetes client
// per cluster.
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { ServingObjectStore, kubeClient } from "../engine/apply/store";
import type { KubeClient } from "../engine/kube/client";
import { fieldManager, isOwnedBy, ownershipConflict } from "../engine/inventory";
import { targetOf, TARGETS } from "../engine/serving-targets";
import { dns1123Label } from "../engine/settings";
import { LABELS, MANAGED_BY, type ServingObject } from "../engine/vocabulary";

export * from "./webhook-runtime";

export const modelDeploymentInputsSchema = z.object({
  model: z.string().min(1),
  slot: z.string().min(1),
  version: z.string().regex(/^\d+$/, "an MLflow version number"),
  candidate: z.string().min(1).optional(),
  owner: z.string().min(1),
  kubeContext: z.string().optional(),
  kubeconfig: z.string().optional(),
  manifest: z
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
    }),
});
export type ModelDeploymentInputs = z.infer<typeof modelDeploymentInputsSchema>;

export interface ModelDeploymentOutputs extends ModelDeploymentInputs {
  uid: string;
}

export function checkInputs(news: unknown): pulumi.dynamic.CheckResult {
  const parsed = modelDeploymentInputsSchema.safeParse(news);
  if (parsed.success) {
    if (parsed.data.manifest.metadata.labels[LABELS.owner] !== parsed.data.owner) {
      return {
        failures: [
          { property: "manifest", reason: `label ${LABELS.owner} must equal owner "${parsed.data.owner}"` },
        ],
      };
    }
    return { inputs: news as Record<string, unknown>, failures: [] };
  }
  return {
    failures: parsed.error.issues.map((issue) => ({
      property: issue.path.join(".") || "(inputs)",
      reason: issue.message,
    })),
  };
}

const identity = (i: ModelDeploymentInputs) => `${i.manifest.metadata.namespace}/${i.manifest.metadata.name}`;

/** An update when anything that shapes the object changes; a replacement only when its identity does. */
export function diffInputs(
  olds: ModelDeploymentInputs,
  news: ModelDeploymentInputs,
): pulumi.dynamic.DiffResult {
  const fields = [
    "model",
    "slot",
    "version",
    "candidate",
    "owner",
    "kubeContext",
    "kubeconfig",
    "manifest",
  ] as const;
  const changed = fields.filter((f) => JSON.stringify(olds[f]) !== JSON.stringify(news[f]));
  if (changed.length === 0) return { changes: false };
  const replaces =
    identity(olds) === identity(news) ? [] : ["manifest.metadata.name", "manifest.metadata.namespace"];
  return { changes: true, replaces, deleteBeforeReplace: replaces.length > 0 };
}

const clients = new Map<string, KubeClient>();

/** One client (one connection pool, one exec-plugin credential) per cluster for the process. */
function clusterClient(inputs: Pick<ModelDeploymentInputs, "kubeContext" | "kubeconfig">): KubeClient {
  const key = JSON.stringify([inputs.kubeContext ?? "", inputs.kubeconfig ?? ""]);
  let client = clients.get(key);
  if (!client) {
    client = kubeClient({ context: inputs.kubeContext, kubeconfigContent: inputs.kubeconfig });
    clients.set(key, client);
  }
  return client;
}

function store(
  inputs: Pick<ModelDeploymentInputs, "kubeContext" | "kubeconfig" | "owner" | "manifest">,
): ServingObjectStore {
  const target = targetOf(inputs.manifest);
  if (!target)
    throw new Error(`no serving target writes ${inputs.manifest.apiVersion} ${inputs.manifest.kind}`);
  return new ServingObjectStore(clusterClient(inputs), target, fieldManager(inputs.owner));
}

export async function applyDeployment(inputs: ModelDeploymentInputs): Promise<ModelDeploymentOutputs> {
  const manifest = inputs.manifest as ServingObject;
  const { namespace, name } = manifest.metadata;
  const cluster = store(inputs);
  // The same rule as the service's; a resource cannot be skipped, so the conflict fails it.
  const conflict = ownershipConflict(await cluster.get(namespace, name), inputs.owner);
  if (conflict) throw new Error(conflict);
  const applied = await cluster.apply(manifest);
  return { ...inputs, uid: String(applied.metadata.uid ?? "") };
}

export async function readDeployment(
  id: string,
  props: ModelDeploymentOutputs,
): Promise<pulumi.dynamic.ReadResult> {
  const [namespace, name] = id.split("/");
  const live = await store(props).get(namespace, name);
  // An empty id tells the engine the object is gone (e.g. deleted by hand).
  if (!live || !isOwnedBy(live, props.owner)) return { id: "", props: {} };
  const manifest = {
    ...props.manifest,
    metadata: {
      ...props.manifest.metadata,
      labels: live.metadata.labels,
      annotations: live.metadata.annotations,
    },
    spec: live.spec,
  };
  return { id, props: { ...props, manifest, uid: String(live.metadata.uid ?? "") } };
}

/** Deletes the object (only if it is ours) and waits until the API no longer returns it. */
export async function deleteDeployment(
  id: string,
  props: ModelDeploymentOutputs,
  timeoutMs = 120_000,
): Promise<void> {
  const [namespace, name] = id.split("/");
  const cluster = store(props);
  const live = await cluster.get(namespace, name);
  if (!live) return;
  const conflict = ownershipConflict(live, props.owner);
  if (conflict) throw new Error(conflict);
  await cluster.delete(namespace, name);
  const deadline = Date.now() + timeoutMs;
  while (await cluster.get(namespace, name)) {
    if (Date.now() > deadline)
      throw new Error(`${cluster.target.kind} ${id} still exists after ${timeoutMs / 1000}s`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

export const deploymentId = (inputs: ModelDeploymentInputs) => identity(inputs);
