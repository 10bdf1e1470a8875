// The serving systems the engine writes to: one kind of object per target, one target per
// service instance or stack. Data and the naming limits each serving system imposes; each
// target's object is built in engine/plan/builders/.
export const targetNames = ["seldon-v1", "kserve", "seldon-v2"] as const;
export type TargetName = (typeof targetNames)[number];

export interface ServingTarget {
  name: TargetName;
  group: string;
  apiVersion: string;
  kind: string;
  /** The resource's plural, as in its API path and RBAC rules. */
  plural: string;
  /**
   * The longest object name the serving system can derive its own names from, in `namespace`
   * (undefined: the engine's default).
   */
  maxNameLength?: (namespace: string) => number;
}

// KServe's Standard (raw Deployment) mode derives a host name `<name>-predictor-<namespace>`
// (its default domain template), a DNS label of at most 63 characters; longer ones fail its
// reconcile ("must be no more than 63 characters").
const KSERVE_HOST_LABEL_ROOM = 63 - "-predictor-".length;

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
    maxNameLength: (namespace) => KSERVE_HOST_LABEL_ROOM - namespace.length,
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
