// Builds the serving object of one serving slot for the configured target: the metadata every
// target shares (owner labels, what is served, the applied hash), the spec from the target's
// builder. Pure.
import { inferenceServiceAnnotations, inferenceServiceSpec } from "./builders/kserve";
import { seldonDeploymentSpec } from "./builders/seldon-v1";
import { seldonModelSpec } from "./builders/seldon-v2";
import { digestOf } from "../digest";
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

/** The object with its applied-hash annotation: the digest of the object without that annotation. */
function withAppliedHash(object: ServingObject): ServingObject {
  object.metadata.annotations[ANNOTATIONS.appliedHash] = digestOf(object);
  return object;
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
