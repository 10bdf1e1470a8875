// The serving systems the engine writes to: one kind of object per target, one target per
// service instance or stack. Data only; each target's object is built in engine/builders/.
export const targetNames = ["seldon-v1", "kserve", "seldon-v2"] as const;
export type TargetName = (typeof targetNames)[number];

export interface ServingTarget {
  name: TargetName;
  group: string;
  apiVersion: string;
  kind: string;
  /** The resource's plural, as in its API path and RBAC rules. */
  plural: string;
}

export const TARGETS: Record<TargetName, ServingTarget> = {
  "seldon-v1": {
    name: "seldon-v1",
    group: "machinelearning.seldon.io",
    apiVersion: "machinelearning.seldon.io/v1",
    kind: "SeldonDeployment",
    plural: "seldondeployments",
  },
  kserve: {
    name: "kserve",
    group: "serving.kserve.io",
    apiVersion: "serving.kserve.io/v1beta1",
    kind: "InferenceService",
    plural: "inferenceservices",
  },
  "seldon-v2": {
    name: "seldon-v2",
    group: "mlops.seldon.io",
    apiVersion: "mlops.seldon.io/v1alpha1",
    kind: "Model",
    plural: "models",
  },
};

/** The target an object belongs to, by its apiVersion and kind. */
export function targetOf(object: { apiVersion: string; kind: string }): ServingTarget | undefined {
  return Object.values(TARGETS).find((t) => t.apiVersion === object.apiVersion && t.kind === object.kind);
}
