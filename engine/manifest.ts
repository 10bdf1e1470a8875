// Builds the SeldonDeployment of one serving slot (machinelearning.seldon.io/v1). Pure.
import { createHash } from "node:crypto";
import { LABELS, ownerLabels } from "./inventory";
import { modelLabel } from "./naming";
import { describeCandidate, type Candidate } from "./rollout";
import type { Resources } from "./settings";
import { slotDescription, slotKey, type Slot } from "./slots";

export const GROUP = "machinelearning.seldon.io";
export const API_VERSION = `${GROUP}/v1`;
export const KIND = "SeldonDeployment";

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

/** A SeldonDeployment as the engine writes and reads it. */
export interface SeldonDeployment {
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
interface PredictorInput {
  version: string;
  serving: Serving;
}

/** A candidate version in a second predictor of the same object. */
export type CandidateInput = Candidate & PredictorInput;

export interface DeploymentSpecInput {
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
  candidate?: CandidateInput;
}

const CONTAINER = "model";
const STORAGE_VOLUME = "mlflow-artifacts";

/** The object with its applied-hash annotation: SHA-256 of its canonical JSON without that annotation. */
function withAppliedHash(object: SeldonDeployment): SeldonDeployment {
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

/** One predictor's graph and pod spec serving `version` of the model. */
function predictorParts(input: DeploymentSpecInput, { version, serving }: PredictorInput) {
  const resources = input.resources ? { resources: input.resources } : {};
  const graph: Record<string, unknown> = { name: CONTAINER, type: "MODEL", children: [] };
  let podSpec: Record<string, unknown> | undefined;
  if (serving.mode === "wrapper-image") {
    podSpec = {
      containers: [
        {
          name: CONTAINER,
          image: serving.image,
          env: [
            { name: "MODEL_PATH", value: serving.modelPath },
            { name: "MODEL_NAME", value: input.model },
            { name: "MODEL_VERSION", value: version },
          ],
          ...(serving.storageClaim
            ? { volumeMounts: [{ name: STORAGE_VOLUME, mountPath: serving.storageRoot, readOnly: true }] }
            : {}),
          ...resources,
        },
      ],
      ...(serving.storageClaim
        ? {
            volumes: [
              {
                name: STORAGE_VOLUME,
                persistentVolumeClaim: { claimName: serving.storageClaim, readOnly: true },
              },
            ],
          }
        : {}),
    };
  } else {
    graph.implementation = "MLFLOW_SERVER";
    graph.modelUri = serving.modelUri;
    if (serving.credentialsSecret) graph.envSecretRefName = serving.credentialsSecret;
    if (input.resources) podSpec = { containers: [{ name: CONTAINER, ...resources }] };
  }
  return { replicas: input.replicas, graph, ...(podSpec ? { componentSpecs: [{ spec: podSpec }] } : {}) };
}

/**
 * The predictors: the served version alone, or beside its candidate — a canary takes its share
 * of the traffic; a shadow gets a copy of every request (Seldon discards its answers).
 */
function predictors(input: DeploymentSpecInput): Record<string, unknown>[] {
  const main = { name: "default", ...predictorParts(input, input) };
  const { candidate } = input;
  if (!candidate) return [main];
  const second = { name: candidate.mode, ...predictorParts(input, candidate) };
  return candidate.mode === "canary"
    ? [
        { ...main, traffic: 100 - (candidate.percent ?? 0) },
        { ...second, traffic: candidate.percent },
      ]
    : [
        { ...main, traffic: 100 },
        { ...second, shadow: true },
      ];
}

export function buildSeldonDeployment(input: DeploymentSpecInput): SeldonDeployment {
  const { candidate } = input;
  return withAppliedHash({
    apiVersion: API_VERSION,
    kind: KIND,
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
    spec: { name: input.name, protocol: input.protocol, predictors: predictors(input) },
  });
}
