// The KServe InferenceService (serving.kserve.io/v1beta1) of a serving slot: KServe's MLflow
// model format (served by MLServer, V2 protocol) read from the version's storage URI. A canary
// follows KServe's own rollout: the spec names the candidate with `canaryTrafficPercent`, and
// KServe keeps the previously rolled-out revision for the rest of the traffic. Pure.
import { storageUriOf } from "./storage-uri";
import type { DeploymentSpecInput, Resources } from "../../vocabulary";

/**
 * KServe merges the predictor's resources over its serving runtime's (kserve-mlserver requests
 * 1 CPU and 2Gi): a limit given without its request would keep the runtime's request, and a
 * request above the limit makes the Deployment invalid. Kubernetes takes an unset request from
 * the limit; say so explicitly.
 */
function withRequests(resources: Resources): Resources {
  if (!resources.limits) return resources;
  return { ...resources, requests: { ...resources.limits, ...resources.requests } };
}

/** KServe's own annotations of the InferenceService: its deployment mode, when configured. */
export function inferenceServiceAnnotations(input: DeploymentSpecInput): Record<string, string> {
  return input.kserveDeploymentMode ? { "serving.kserve.io/deploymentMode": input.kserveDeploymentMode } : {};
}

export function inferenceServiceSpec(input: DeploymentSpecInput): Record<string, unknown> {
  const { candidate } = input;
  return {
    predictor: {
      minReplicas: input.replicas,
      ...(input.serviceAccount ? { serviceAccountName: input.serviceAccount } : {}),
      ...(candidate ? { canaryTrafficPercent: candidate.percent } : {}),
      model: {
        modelFormat: { name: "mlflow" },
        protocolVersion: "v2",
        storageUri: storageUriOf(candidate ?? input),
        ...(input.resources ? { resources: withRequests(input.resources) } : {}),
      },
    },
  };
}
