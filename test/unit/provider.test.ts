import { parseStackConfig } from "../../deploy/stack-config";
import { ConfigError } from "../../engine/errors";
import { digestOf } from "../../engine/digest";
import { buildServingObject } from "../../engine/plan/manifest";
import {
  checkInputs,
  checkWebhookInputs,
  diffInputs,
  diffWebhookInputs,
  type MlflowWebhookInputs,
  type ModelDeploymentInputs,
  type ModelDeploymentOutputs,
  type ParsedDeploymentInputs,
} from "../../provider/runtime";

const parsedInputs = (
  overrides: { version?: string; image?: string; name?: string } = {},
): ParsedDeploymentInputs => {
  const manifest = buildServingObject({
    target: "seldon-v1",
    name: overrides.name ?? "iris-production-12345678",
    namespace: "seldon",
    owner: "stack-dev",
    model: "iris",
    version: overrides.version ?? "1",
    slot: { kind: "stage", name: "Production" },
    runId: "r",
    source: "models:/m-1",
    artifactUri: "mlflow-artifacts:/1/models/m-1/artifacts",
    modelCreated: 1700000000000,
    serving: {
      mode: "wrapper-image",
      image: overrides.image ?? "wrapper:1",
      modelPath: "/mnt/mlflow/1/models/m-1/artifacts",
      storageRoot: "/mnt/mlflow",
    },
    replicas: 1,
    protocol: "seldon",
  });
  return {
    model: "iris",
    slot: "stage:Production",
    version: overrides.version ?? "1",
    owner: "stack-dev",
    manifest: manifest as ParsedDeploymentInputs["manifest"],
  };
};
/** The inputs as the program declares them: the manifest as JSON text. */
const declared = (parsed: ParsedDeploymentInputs): ModelDeploymentInputs => ({
  ...parsed,
  manifest: JSON.stringify(parsed.manifest),
});
const inputs = (overrides: Parameters<typeof parsedInputs>[0] = {}) => declared(parsedInputs(overrides));

describe("ModelDeployment check", () => {
  test("accepts the planner's output", () => {
    expect(checkInputs(inputs()).failures).toEqual([]);
  });
  test("names the property and the reason of each failure", () => {
    const bad = parsedInputs();
    bad.version = "latest";
    bad.manifest.metadata.name = "Not Valid";
    const failures = checkInputs(declared(bad)).failures ?? [];
    expect(failures).toEqual(
      expect.arrayContaining([
        { property: "version", reason: "an MLflow version number" },
        expect.objectContaining({ property: "manifest.metadata.name" }),
      ]),
    );
  });
  test("refuses a manifest that is not JSON text", () => {
    expect(checkInputs({ ...inputs(), manifest: "{ kind: Seldon" }).failures).toEqual([
      { property: "manifest", reason: expect.stringContaining("JSON text of a serving object") },
    ]);
  });
  test("refuses an apiVersion and kind that name no serving target together", () => {
    const mixed = parsedInputs();
    mixed.manifest.apiVersion = "serving.kserve.io/v1beta1";
    expect(checkInputs(declared(mixed)).failures).toEqual([
      {
        property: "manifest.kind",
        reason: expect.stringContaining("serving.kserve.io/v1beta1 InferenceService"),
      },
    ]);
  });
  test("refuses a manifest labelled for another owner", () => {
    const foreign = inputs();
    foreign.owner = "stack-other";
    expect(checkInputs(foreign).failures?.[0].property).toBe("manifest");
  });
});

describe("ModelDeployment diff", () => {
  // What the state holds after `before` was applied: the provider's outputs, not its inputs.
  const applied = (before: ParsedDeploymentInputs, kubeconfig?: string): ModelDeploymentOutputs => ({
    model: before.model,
    slot: before.slot,
    version: before.version,
    owner: before.owner,
    kubeconfig,
    apiVersion: before.manifest.apiVersion,
    kind: before.manifest.kind,
    namespace: before.manifest.metadata.namespace,
    name: before.manifest.metadata.name,
    uid: "u-1",
    appliedDigest: digestOf(before),
    liveDigest: "live",
  });
  const id = "seldon/iris-production-12345678";
  test("no change, no diff; the provider module Pulumi adds (by a checkout's path) is not a change", () => {
    expect(diffInputs(id, applied(parsedInputs()), parsedInputs())).toEqual({ changes: false });
    const moved = { ...parsedInputs(), __provider: "exports.handler = () => require('/elsewhere')" };
    expect(diffInputs(id, applied(parsedInputs()), moved)).toEqual({ changes: false });
  });
  test("a new version or image is an in-place update", () => {
    expect(diffInputs(id, applied(parsedInputs()), parsedInputs({ version: "2" }))).toEqual({
      changes: true,
      replaces: [],
      deleteBeforeReplace: false,
    });
    expect(diffInputs(id, applied(parsedInputs()), parsedInputs({ image: "wrapper:2" })).replaces).toEqual(
      [],
    );
  });
  test("a new kubeconfig is an update; the digest never covers it", () => {
    const withConfig = { ...parsedInputs(), kubeconfig: "apiVersion: v1 # b" };
    const stored = applied(parsedInputs(), "apiVersion: v1 # a");
    expect(stored.appliedDigest).toBe(digestOf(parsedInputs()));
    expect(diffInputs(id, stored, withConfig)).toMatchObject({ changes: true, replaces: [] });
  });
  test("drift found by a refresh (a cleared applied digest) is an update", () => {
    expect(diffInputs(id, { ...applied(parsedInputs()), appliedDigest: "" }, parsedInputs())).toMatchObject({
      changes: true,
      replaces: [],
    });
  });
  test("a new object name or kind is a replacement", () => {
    expect(
      diffInputs(id, applied(parsedInputs()), parsedInputs({ name: "iris-production-87654321" })),
    ).toMatchObject({
      changes: true,
      deleteBeforeReplace: true,
    });
    expect(
      diffInputs(id, { ...applied(parsedInputs()), kind: "InferenceService" }, parsedInputs()).replaces,
    ).toEqual(["manifest"]);
  });
});

describe("MlflowWebhook check and diff", () => {
  const webhook: MlflowWebhookInputs = {
    mlflowUrl: "http://mlflow:5000",
    name: "mlflow2seldon-dev",
    url: "http://mlflow2seldon-metrics.mlflow2seldon.svc:8080/webhooks/mlflow",
    secret: "a-secret-of-sixteen-chars",
    events: [{ entity: "MODEL_VERSION_ALIAS", action: "CREATED" }],
  };
  test("a short secret or a missing URL is named", () => {
    expect(checkWebhookInputs({ ...webhook, secret: "short", url: undefined }).failures).toEqual([
      { property: "url", reason: expect.stringContaining("URL") },
      { property: "secret", reason: "at least 16 characters" },
    ]);
  });
  test("a rotated secret or a new URL is an update in place; another MLflow replaces it", () => {
    expect(diffWebhookInputs(webhook, { ...webhook })).toEqual({ changes: false });
    expect(diffWebhookInputs(webhook, { ...webhook, secret: "another-secret-of-16" })).toEqual({
      changes: true,
      replaces: [],
    });
    expect(diffWebhookInputs(webhook, { ...webhook, url: "https://hooks.example.com/m2s" }).replaces).toEqual(
      [],
    );
    expect(diffWebhookInputs(webhook, { ...webhook, mlflowUrl: "http://other:5000" }).replaces).toEqual([
      "mlflowUrl",
    ]);
  });
});

describe("stack config", () => {
  test("defaults fill everything but the MLflow URL", () => {
    const config = parseStackConfig(
      (key) => ({ mlflowUrl: "http://mlflow:5000", replicas: "2", stackModels: '["fraud-*"]' })[key],
    );
    expect(config).toMatchObject({
      mlflowUrl: "http://mlflow:5000",
      replicas: 2,
      stackModels: ["fraud-*"],
      deploymentNamespace: "seldon",
      deployService: true,
    });
  });
  test("a missing or bad key names the key and the command that sets it", () => {
    let error: unknown;
    try {
      parseStackConfig((key) => ({ replicas: "two" })[key]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain("mlflow2seldon:mlflowUrl");
    expect((error as Error).message).toContain("pulumi config set mlflow2seldon:mlflowUrl");
    expect((error as Error).message).toContain("mlflow2seldon:replicas");
  });
  test("the service's resources are a resources object; a bad quantity names the key and the value", () => {
    const read = (serviceResources: string) => (key: string) =>
      ({ mlflowUrl: "http://mlflow:5000", serviceResources })[key];
    expect(parseStackConfig(read('{"limits":{"memory":"1Gi"}}')).serviceResources).toEqual({
      limits: { memory: "1Gi" },
    });
    expect(() => parseStackConfig(read('{"limits":{"memory":"a lot"}}'))).toThrow(
      /mlflow2seldon:serviceResources.*a Kubernetes quantity.*"a lot"/s,
    );
  });
});
