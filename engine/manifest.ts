// Builds the serving object of one serving slot for the configured target: the metadata every
// target shares (owner labels, what is served, the applied hash), the spec from the target's
// builder. Pure.
import { createHash } from "node:crypto";
import { inferenceServiceSpec } from "./builders/kserve";
import { seldonDeploymentSpec } from "./builders/seldon-v1";
import { seldonModelSpec } from "./builders/seldon-v2";
import { LABELS, ownerLabels } from "./inventory";
import { modelLabel } from "./naming";
import { describeCandidate, type Candidate } from "./rollout";
import { TARGETS, type TargetName } from "./serving-targets";
import type { Resources } from "./settings";
import { slotDescription, slotKey, type Slot } from "./slots";

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
    [key: string]: unknown;
  };
  spec: Record<string, unknown>;
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
  candidate?: CandidateInput;
}

/** The object with its applied-hash annotation: SHA-256 of its canonical JSON without that annotation. */
function withAppliedHash(object: ServingObject): ServingObject {
  const digest = createHash("sha256").update(canonicalJson(object)).digest("hex").slice(0, 32);
  object.metadata.annotations[ANNOTATIONS.appliedHash] = digest;
  return object;
}

/** JSON with object keys sorted, so equal objects hash equally whatever their key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

const BUILDERS: Record<TargetName, (input: DeploymentSpecInput) => Record<string, unknown>> = {
  "seldon-v1": seldonDeploymentSpec,
  kserve: inferenceServiceSpec,
  "seldon-v2": seldonModelSpec,
};

export function buildServingObject(input: DeploymentSpecInput): ServingObject {
  const { candidate } = input;
  const target = TARGETS[input.target];
  return withAppliedHash({
    apiVersion: target.apiVersion,
    kind: target.kind,
    metadata: {
      name: input.name,
      namespace: input.namespace,
      labels: {
        ...ownerLabels(input.owner),
        [LABELS.model]: modelLabel(input.model),
        [LABELS.slot]: slotKey(input.slot).slice(0, 63),
        [LABELS.version]: input.version,
      },
      annotations: {
        [ANNOTATIONS.modelName]: input.model,
        [ANNOTATIONS.version]: input.version,
        [ANNOTATIONS.slot]: slotDescription(input.slot),
        [ANNOTATIONS.runId]: input.runId,
        [ANNOTATIONS.source]: input.source,
        [ANNOTATIONS.artifactUri]: input.artifactUri,
        [ANNOTATIONS.modelCreated]: String(input.modelCreated),
        ...(candidate
          ? {
              [ANNOTATIONS.candidate]: describeCandidate(candidate),
              [ANNOTATIONS.candidateVersion]: candidate.version,
            }
          : {}),
      },
    },
    spec: BUILDERS[input.target](input),
  });
}
