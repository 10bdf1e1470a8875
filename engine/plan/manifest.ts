// Builds the serving object of one serving slot for the configured target: the metadata every
// target shares (owner labels, what is served, the applied hash), the spec from the target's
// builder. Pure.
import { createHash } from "node:crypto";
import { inferenceServiceAnnotations, inferenceServiceSpec } from "./builders/kserve";
import { seldonDeploymentSpec } from "./builders/seldon-v1";
import { seldonModelSpec } from "./builders/seldon-v2";
import { ownerLabels } from "../inventory";
import { modelLabel } from "./naming";
import { describeCandidate } from "../registry/rollout";
import { TARGETS, type TargetName } from "../serving-targets";
import {
  ANNOTATIONS,
  LABELS,
  slotDescription,
  slotKey,
  type DeploymentSpecInput,
  type ServingObject,
} from "../vocabulary";

/** SHA-256 of a value's canonical JSON (keys sorted), shortened: equal values, equal digests. */
export function digestOf(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("hex").slice(0, 32);
}

/** The object with its applied-hash annotation: the digest of the object without that annotation. */
function withAppliedHash(object: ServingObject): ServingObject {
  object.metadata.annotations[ANNOTATIONS.appliedHash] = digestOf(object);
  return object;
}

/** JSON with object keys sorted, so equal objects hash equally whatever their key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    // Undefined members are left out, as JSON leaves them out of what is sent.
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
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
        ...(input.target === "kserve" ? inferenceServiceAnnotations(input) : {}),
      },
    },
    spec: BUILDERS[input.target](input),
  });
}
