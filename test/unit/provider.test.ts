import { parseStackConfig } from "../../deploy/stack-config";
import { ConfigError } from "../../engine/errors";
import { digestOf } from "../../engine/digest";
import { buildServingObject } from "../../engine/plan/manifest";
import {
  checkGroupInputs,
  checkWebhookInputs,
  diffGroupInputs,
  diffWebhookInputs,
  type MlflowWebhookInputs,
  type ModelDeploymentGroupInputs,
  type ModelDeploymentGroupOutputs,
} from "../../provider/runtime";

const NAME = "iris-production-12345678";

/** One slot as the engine plans it (the manifest parsed). */
const plannedSlot = (
  overrides: { version?: string; image?: string; name?: string; namespace?: string } = {},
) => ({
  model: "iris",
  slot: "stage:Production",
  version: overrides.version ?? "1",
  manifest: buildServingObject({
    target: "seldon-v1",
    name: overrides.name ?? NAME,
    namespace: overrides.namespace ?? "seldon",
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
  }),
});
type PlannedSlot = ReturnType<typeof plannedSlot>;

/** A group's inputs as the program declares them: each slot as JSON text under its object's name. */
const groupInputs = (...slots: PlannedSlot[]): ModelDeploymentGroupInputs => ({
  group: "models-2a",
  owner: "stack-dev",
  ...Object.fromEntries(slots.map((slot) => [slot.manifest.metadata.name, JSON.stringify(slot)])),
});

describe("ModelDeploymentGroup check", () => {
  test("accepts the planner's output", () => {
    expect(checkGroupInputs(groupInputs(plannedSlot())).failures).toEqual([]);
  });
  test("names the slot, the field and the reason of each failure", () => {
    const bad = { ...plannedSlot(), version: "latest" };
    const failures = checkGroupInputs(groupInputs(bad)).failures ?? [];
    expect(failures).toEqual([{ property: `${NAME}.version`, reason: "an MLflow version number" }]);
    const unnamed = plannedSlot();
    unnamed.manifest.metadata.name = "Not Valid";
    expect(checkGroupInputs({ ...groupInputs(), [NAME]: JSON.stringify(unnamed) }).failures).toEqual([
      expect.objectContaining({ property: `${NAME}.manifest.metadata.name` }),
    ]);
  });
  test("refuses a slot that is not JSON text, or filed under another object's name", () => {
    expect(checkGroupInputs({ ...groupInputs(), [NAME]: "{ kind: Seldon" }).failures).toEqual([
      { property: NAME, reason: expect.stringContaining("JSON text of a served slot") },
    ]);
    expect(
      checkGroupInputs({ ...groupInputs(), "iris-staging-87654321": JSON.stringify(plannedSlot()) }).failures,
    ).toEqual([{ property: "iris-staging-87654321", reason: `names the object ${NAME}` }]);
  });
  test("refuses an apiVersion and kind that name no serving target together", () => {
    const mixed = plannedSlot();
    mixed.manifest.apiVersion = "serving.kserve.io/v1beta1";
    expect(checkGroupInputs(groupInputs(mixed)).failures).toEqual([
      {
        property: `${NAME}.manifest.kind`,
        reason: expect.stringContaining("serving.kserve.io/v1beta1 InferenceService"),
      },
    ]);
  });
  test("refuses a slot labelled for another owner, and a group without an owner", () => {
    expect(
      checkGroupInputs({ ...groupInputs(plannedSlot()), owner: "stack-other" }).failures?.[0].property,
    ).toBe(NAME);
    const ownerless: Record<string, unknown> = { ...groupInputs() };
    delete ownerless.owner;
    expect(checkGroupInputs(ownerless).failures?.[0].property).toBe("owner");
  });
});

describe("ModelDeploymentGroup diff", () => {
  // What the state holds after `slots` were applied: the provider's outputs, not its inputs.
  const applied = (slots: PlannedSlot[], kubeconfig?: string): ModelDeploymentGroupOutputs => ({
    group: "models-2a",
    owner: "stack-dev",
    kubeconfig,
    objects: Object.fromEntries(
      slots.map((slot) => [
        slot.manifest.metadata.name,
        {
          apiVersion: slot.manifest.apiVersion,
          kind: slot.manifest.kind,
          namespace: slot.manifest.metadata.namespace,
          uid: "u-1",
          appliedDigest: digestOf(slot),
          liveDigest: "live",
        },
      ]),
    ),
  });
  test("no change, no diff; the provider module Pulumi adds (by a checkout's path) is not a change", () => {
    expect(diffGroupInputs(applied([plannedSlot()]), groupInputs(plannedSlot()))).toEqual({ changes: false });
    const moved = {
      ...groupInputs(plannedSlot()),
      __provider: "exports.handler = () => require('/elsewhere')",
    };
    expect(diffGroupInputs(applied([plannedSlot()]), moved)).toEqual({ changes: false });
  });
  test("a new version or image of a slot, an added slot and a removed slot are updates in place", () => {
    const before = applied([plannedSlot()]);
    const update = { changes: true };
    expect(diffGroupInputs(before, groupInputs(plannedSlot({ version: "2" })))).toEqual(update);
    expect(diffGroupInputs(before, groupInputs(plannedSlot({ image: "wrapper:2" })))).toEqual(update);
    const added = plannedSlot({ name: "iris-staging-87654321" });
    expect(diffGroupInputs(before, groupInputs(plannedSlot(), added))).toEqual(update);
    expect(diffGroupInputs(applied([plannedSlot(), added]), groupInputs(plannedSlot()))).toEqual(update);
    expect(diffGroupInputs(before, groupInputs(plannedSlot({ namespace: "seldon-2" })))).toEqual(update);
  });
  test("a new kubeconfig is an update; the digest never covers it", () => {
    const stored = applied([plannedSlot()], "apiVersion: v1 # a");
    expect(
      diffGroupInputs(stored, { ...groupInputs(plannedSlot()), kubeconfig: "apiVersion: v1 # b" }),
    ).toEqual({
      changes: true,
    });
  });
  test("drift found by a refresh (a cleared applied digest) is an update", () => {
    const stored = applied([plannedSlot()]);
    stored.objects[NAME].appliedDigest = "";
    expect(diffGroupInputs(stored, groupInputs(plannedSlot()))).toEqual({ changes: true });
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
