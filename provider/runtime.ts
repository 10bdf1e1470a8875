// The dynamic providers, loaded by the dynamic provider process through load-runtime.cjs (see
// dynamic-resource.ts): the ModelDeployment's input validation, diff, and create/read/update/
// delete through the engine's applier here, the MlflowWebhook's in webhook-runtime.ts. One
// provider process serves many resources, so it keeps one Kubernetes client per cluster.
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { ServingObjectStore, kubeClient } from "../engine/apply/store";
import type { KubeClient } from "../engine/kube/client";
import { fieldManager, isOwnedBy, ownershipConflict } from "../engine/inventory";
import { digestOf } from "../engine/digest";
import { targetOf, TARGETS } from "../engine/serving-targets";
import { dns1123Label } from "../engine/settings";
import { LABELS, MANAGED_BY, type ServingObject } from "../engine/vocabulary";

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

/**
 * The manifest arrives as JSON text: the engine serializes every property value of every resource
 * after each step of an up, so one string costs a fraction of the ~70 values of a nested object,
 * and Pulumi's diff display still shows a JSON string field by field.
 */
const manifestJsonSchema = z
  .string()
  .transform((text, context) => {
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      context.addIssue({ code: "custom", message: `JSON text of a serving object: ${String(error)}` });
      return z.NEVER;
    }
  })
  .pipe(servingManifestSchema);

export const modelDeploymentInputsSchema = z.object({
  model: z.string().min(1),
  slot: z.string().min(1),
  version: z.string().regex(/^\d+$/, "an MLflow version number"),
  candidate: z.string().min(1).optional(),
  owner: z.string().min(1),
  kubeContext: z.string().optional(),
  kubeconfig: z.string().optional(),
  manifest: manifestJsonSchema,
});
/** The inputs as the program declares them and the state keeps them: the manifest as JSON text. */
export type ModelDeploymentInputs = z.input<typeof modelDeploymentInputsSchema>;
/** The inputs once checked, the manifest parsed. */
export type ParsedDeploymentInputs = z.output<typeof modelDeploymentInputsSchema>;

/**
 * What the state keeps of a deployment besides its inputs: what read and delete need and two
 * digests, not a second copy of the manifest. The local backend rewrites the whole state after
 * every step of an up, so every byte a resource holds is paid for at every step.
 */
export interface ModelDeploymentOutputs {
  model: string;
  slot: string;
  version: string;
  owner: string;
  kubeContext?: string;
  kubeconfig?: string;
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid: string;
  /** Digest of the inputs last applied (the kubeconfig aside: compared as itself, never digested). */
  appliedDigest: string;
  /** Digest of the object's labels, annotations and spec as the API server last returned them. */
  liveDigest: string;
}

// The declared inputs only: what Pulumi adds (the provider module, by a path that differs between
// checkouts) is not a change of the deployment.
const appliedDigestOf = ({
  model,
  slot,
  version,
  candidate,
  owner,
  kubeContext,
  manifest,
}: ParsedDeploymentInputs) => digestOf({ model, slot, version, candidate, owner, kubeContext, manifest });
const liveDigestOf = (object: ServingObject) =>
  digestOf({
    labels: object.metadata.labels ?? {},
    annotations: object.metadata.annotations ?? {},
    spec: object.spec,
  });

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

const identity = (i: ParsedDeploymentInputs) =>
  `${i.manifest.metadata.namespace}/${i.manifest.metadata.name}`;

/**
 * An update when anything that shapes the object changes (a new digest of the inputs, a new
 * kubeconfig, or a refresh that found the object changed by hand); a replacement only when its
 * identity does: another name, namespace or kind.
 */
export function diffInputs(
  id: string,
  olds: ModelDeploymentOutputs,
  news: ParsedDeploymentInputs,
): pulumi.dynamic.DiffResult {
  // The manifest is one value in the state, so a replacement names it whole.
  const replaces =
    id === identity(news) && olds.apiVersion === news.manifest.apiVersion && olds.kind === news.manifest.kind
      ? []
      : ["manifest"];
  const changes =
    replaces.length > 0 ||
    olds.appliedDigest !== appliedDigestOf(news) ||
    (olds.kubeconfig ?? "") !== (news.kubeconfig ?? "");
  if (!changes) return { changes: false };
  return { changes: true, replaces, deleteBeforeReplace: replaces.length > 0 };
}

const clients = new Map<string, KubeClient>();

/** One client (one connection pool, one exec-plugin credential) per cluster for the process. */
function clusterClient(inputs: Pick<ParsedDeploymentInputs, "kubeContext" | "kubeconfig">): KubeClient {
  const key = JSON.stringify([inputs.kubeContext ?? "", inputs.kubeconfig ?? ""]);
  let client = clients.get(key);
  if (!client) {
    client = kubeClient({ context: inputs.kubeContext, kubeconfigContent: inputs.kubeconfig });
    clients.set(key, client);
  }
  return client;
}

type ClusterTarget = Pick<
  ModelDeploymentOutputs,
  "kubeContext" | "kubeconfig" | "owner" | "apiVersion" | "kind"
>;

function store(inputs: ClusterTarget): ServingObjectStore {
  const target = targetOf(inputs);
  if (!target) throw new Error(`no serving target writes ${inputs.apiVersion} ${inputs.kind}`);
  return new ServingObjectStore(clusterClient(inputs), target, fieldManager(inputs.owner));
}

export async function applyDeployment(inputs: ParsedDeploymentInputs): Promise<ModelDeploymentOutputs> {
  const manifest = inputs.manifest as ServingObject;
  const { namespace, name } = manifest.metadata;
  const outputs = {
    model: inputs.model,
    slot: inputs.slot,
    version: inputs.version,
    owner: inputs.owner,
    ...(inputs.kubeContext === undefined ? {} : { kubeContext: inputs.kubeContext }),
    ...(inputs.kubeconfig === undefined ? {} : { kubeconfig: inputs.kubeconfig }),
    apiVersion: manifest.apiVersion,
    kind: manifest.kind,
    namespace,
    name,
  };
  const cluster = store(outputs);
  // The same rule as the service's; a resource cannot be skipped, so the conflict fails it.
  const conflict = ownershipConflict(await cluster.get(namespace, name), inputs.owner);
  if (conflict) throw new Error(conflict);
  const applied = await cluster.apply(manifest);
  return {
    ...outputs,
    uid: String(applied.metadata.uid ?? ""),
    appliedDigest: appliedDigestOf(inputs),
    liveDigest: liveDigestOf(applied),
  };
}

/**
 * The object as the cluster has it: gone (or no longer ours) ends the resource; labels,
 * annotations or spec other than the API server returned at the last apply are drift, which
 * clears the applied digest so the next up applies the inputs again.
 */
export async function readDeployment(
  id: string,
  props: ModelDeploymentOutputs,
): Promise<pulumi.dynamic.ReadResult> {
  const [namespace, name] = id.split("/");
  const live = await store(props).get(namespace, name);
  // An empty id tells the engine the object is gone (e.g. deleted by hand).
  if (!live || !isOwnedBy(live, props.owner)) return { id: "", props: {} };
  const liveDigest = liveDigestOf(live);
  const drifted = liveDigest !== props.liveDigest;
  return {
    id,
    props: {
      ...props,
      uid: String(live.metadata.uid ?? ""),
      liveDigest,
      appliedDigest: drifted ? "" : props.appliedDigest,
    },
  };
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

export const modelDeploymentProvider: pulumi.dynamic.ResourceProvider<
  ModelDeploymentInputs,
  ModelDeploymentOutputs
> = {
  check: async (_olds, news) => checkInputs(news) as pulumi.dynamic.CheckResult<ModelDeploymentInputs>,
  // Olds are the state's outputs: the digests, not the old inputs. News have passed check.
  diff: async (id, olds, news) =>
    diffInputs(id, olds as unknown as ModelDeploymentOutputs, modelDeploymentInputsSchema.parse(news)),
  create: async (inputs) => {
    const parsed = modelDeploymentInputsSchema.parse(inputs);
    return { id: identity(parsed), outs: await applyDeployment(parsed) };
  },
  update: async (_id, _olds, news) => ({
    outs: await applyDeployment(modelDeploymentInputsSchema.parse(news)),
  }),
  read: async (id, props) =>
    readDeployment(id, props!) as Promise<pulumi.dynamic.ReadResult<ModelDeploymentOutputs>>,
  delete: async (id, props) => deleteDeployment(id, props),
};
