// The Seldon Core v2 Model (mlops.seldon.io/v1alpha1) of a serving slot: loaded by a server
// offering the `mlflow` requirement (MLServer) from the version's storage URI; the memory it
// asks for is the memory limit (or request) of the resources setting. Pure.
import { storageUriOf } from "./storage-uri";
import type { DeploymentSpecInput } from "../../vocabulary";

export function seldonModelSpec(input: DeploymentSpecInput): Record<string, unknown> {
  const memory = input.resources?.limits?.memory ?? input.resources?.requests?.memory;
  const secret = input.serving.mode === "mlflow-server" ? input.serving.credentialsSecret : undefined;
  return {
    storageUri: storageUriOf(input),
    requirements: ["mlflow"],
    replicas: input.replicas,
    ...(secret ? { secretName: secret } : {}),
    ...(memory ? { memory } : {}),
  };
}
