// The KServe InferenceService (serving.kserve.io/v1beta1) of a serving slot: KServe's MLflow
// model format (served by MLServer, V2 protocol) read from the version's storage URI. A canary
// follows KServe's own rollout: the spec names the candidate with `canaryTrafficPercent`, and
// KServe keeps the previously rolled-out revision for the rest of the traffic. Pure.
import { storageUriOf } from "./storage-uri";
import type { DeploymentSpecInput } from "../../vocabulary";

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
        ...(input.resources ? { resources: input.resources } : {}),
      },
    },
  };
}
