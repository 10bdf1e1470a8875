// Proves each testbed component is the real thing: MLflow's REST API, the kube-apiserver with the
// Seldon CRD's schema validation, and (in pulumi-smoke.test.ts) the Pulumi CLI.
import { ApiException } from "@kubernetes/client-node";
import { customObjects, freshNamespace, seldon } from "../support/cluster";
import { mlflow, uniqueModelName } from "../support/mlflow";

describe("real MLflow server", () => {
  test("a registered model version moved to Production is found again by model-versions/search", async () => {
    const client = mlflow();
    const name = uniqueModelName("smoke model");
    await client.createRegisteredModel(name);
    const version = await client.createModelVersion(name, "mlflow-artifacts:/smoke/model");
    await client.transitionStage(name, version.version, "Production");
    const found = await client.listModelVersions(name);
    expect(found).toEqual([
      expect.objectContaining({ name, version: version.version, current_stage: "Production" }),
    ]);
  });
});

describe("real kube-apiserver with the Seldon CRDs", () => {
  const sdep = (namespace: string, predictors: unknown) => ({
    apiVersion: "machinelearning.seldon.io/v1",
    kind: "SeldonDeployment",
    metadata: { name: "smoke", namespace },
    spec: { predictors },
  });

  test("accepts a valid SeldonDeployment and rejects one the CRD schema forbids", async () => {
    const namespace = await freshNamespace("smoke");
    const api = customObjects();
    const valid = sdep(namespace, [
      {
        name: "default",
        replicas: 1,
        graph: {
          name: "model",
          implementation: "MLFLOW_SERVER",
          modelUri: "s3://bucket/model",
          children: [],
        },
      },
    ]);
    await api.createNamespacedCustomObject({ ...seldon, namespace, body: valid });
    const invalid = { ...sdep(namespace, "not-a-list"), metadata: { name: "smoke-invalid", namespace } };
    const rejection = await api.createNamespacedCustomObject({ ...seldon, namespace, body: invalid }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(rejection).toBeInstanceOf(ApiException);
    expect((rejection as ApiException<string>).code).toBe(422);
    expect(String((rejection as ApiException<string>).body)).toContain("spec.predictors");
  });
});
