// The words every stage shares (registry read, plan, apply): what a serving slot is, the serving
// object with its labels and annotations, and what a builder is given. Types and constants only;
// it imports no stage, so no stage depends on another through it.
import type { TargetName } from "./serving-targets";

/** A serving slot of a registered model: a stage or an alias. */
export interface Slot {
  kind: "stage" | "alias";
  /** Stage as MLflow spells it (Production) or alias name (champion). */
  name: string;
}

/** The slot's label value: stages case-folded (MLflow compares them so), aliases as they are. */
export function slotKey(slot: Slot): string {
  return slot.kind === "stage" ? slot.name.toLowerCase() : slot.name;
}

/** stage:Production or alias:champion */
export function slotDescription(slot: Slot): string {
  return `${slot.kind}:${slot.name}`;
}

/** A candidate version served beside a slot's version in the same object (progressive rollout). */
export interface Candidate {
  version: string;
  /** Where the candidate comes from (stage:Staging or alias:challenger). */
  from: Slot;
  mode: "canary" | "shadow";
  percent?: number;
}

/** Labels of every object the engine writes: the owner pair, and what it serves (for selection). */
export const LABELS = {
  managedBy: "app.kubernetes.io/managed-by",
  owner: "mlflow2seldon.io/owner",
  model: "mlflow2seldon.io/model",
  slot: "mlflow2seldon.io/slot",
  version: "mlflow2seldon.io/version",
} as const;
export const MANAGED_BY = "mlflow2seldon";

/** Label of the namespaces a Pulumi stack created (it deletes only those). */
export const STACK_LABEL = "mlflow2seldon.io/stack";

export const ANNOTATIONS = {
  modelName: "mlflow2seldon.io/model-name",
  version: "mlflow2seldon.io/model-version",
  slot: "mlflow2seldon.io/serving-slot",
  runId: "mlflow2seldon.io/run-id",
  source: "mlflow2seldon.io/source",
  artifactUri: "mlflow2seldon.io/artifact-uri",
  modelCreated: "mlflow2seldon.io/model-created",
  /** The candidate beside the served version, e.g. "canary 10% of version 4 (stage:Staging)". */
  candidate: "mlflow2seldon.io/candidate",
  candidateVersion: "mlflow2seldon.io/candidate-version",
  /** Hash of everything the engine applies: a change means fields may have to go (drift rule). */
  appliedHash: "mlflow2seldon.io/applied-hash",
  /** The Pulumi ModelDeploymentGroup that serves a stack's object. */
  pulumiGroup: "mlflow2seldon.io/pulumi-group",
} as const;

/** A serving object (SeldonDeployment, InferenceService, Model) as the engine writes and reads it. */
export interface ServingObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    /** Set once a delete was accepted while finalizers (KServe's) still hold the object. */
    deletionTimestamp?: string;
    [key: string]: unknown;
  };
  spec: Record<string, unknown>;
}

/** Container resources (Kubernetes quantities by resource name). */
export interface Resources {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
}

export type Serving =
  | { mode: "wrapper-image"; image: string; modelPath: string; storageRoot: string; storageClaim?: string }
  | { mode: "mlflow-server"; modelUri: string; credentialsSecret?: string };

/** What a predictor serves: one version, read the way `serving` says. */
export interface PredictorInput {
  version: string;
  serving: Serving;
}

/** A candidate version in a second predictor of the same object. */
export type CandidateInput = Candidate & PredictorInput;

/** Everything a target's builder is given to write one serving object. */
export interface DeploymentSpecInput {
  target: TargetName;
  name: string;
  namespace: string;
  owner: string;
  model: string;
  version: string;
  slot: Slot;
  runId: string;
  source: string;
  artifactUri: string;
  modelCreated: number;
  serving: Serving;
  replicas: number;
  protocol: string;
  resources?: Resources;
  /** Service account of the serving pods (KServe: the one holding the object store's credentials). */
  serviceAccount?: string;
  /** KServe's deployment mode, written as its annotation (kserve target). */
  kserveDeploymentMode?: string;
  candidate?: CandidateInput;
}
