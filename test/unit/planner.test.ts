import type { RegisteredModel } from "../../engine/registry/schemas";
import { MODEL_TAGS, plan } from "../../engine/plan/planner";
import type { ResolvedSlot } from "../../engine/registry/slots";
import { engineSettingsSchema, type EngineSettingsInput } from "../../engine/settings";
import { servingSlots } from "../../engine/registry/slots";
import { LABELS, ANNOTATIONS } from "../../engine/vocabulary";

const settings = (overrides: Partial<EngineSettingsInput> = {}) =>
  engineSettingsSchema.parse({ namespace: "models", owner: "service", aliases: ["champion"], ...overrides });

const version = (v: string, stage = "None") => ({
  name: "iris",
  version: v,
  current_stage: stage,
  source: `runs:/run${v}/model`,
  run_id: `run${v}`,
  status: "READY",
  tags: {},
  aliases: [],
});

const model = (overrides: Partial<RegisteredModel> = {}): RegisteredModel => ({
  name: "iris",
  latest_versions: [],
  tags: {},
  aliases: [],
  ...overrides,
});

const locationOf = (v: string) => ({
  source: `runs:/run${v}/model`,
  runId: `run${v}`,
  artifactUri: `mlflow-artifacts:/1/run${v}/artifacts/model`,
  modelCreated: 1700000000000,
});

const resolved = (slots: ReturnType<typeof servingSlots>): ResolvedSlot[] =>
  slots.map((s) => ({
    ...s,
    location: locationOf(s.version),
    ...(s.candidate ? { candidateLocation: locationOf(s.candidate.version) } : {}),
  }));

describe("serving slots", () => {
  test("the latest version of each configured stage serves, and each configured alias", () => {
    const m = model({
      latest_versions: [
        version("2", "Production"),
        version("5", "Production"),
        version("3", "Staging"),
        version("4", "Archived"),
      ],
      aliases: [
        { alias: "champion", version: "1" },
        { alias: "other", version: "4" },
      ],
    });
    const slots = servingSlots([m], settings());
    expect(slots.map((s) => [s.slot.kind, s.slot.name, s.version])).toEqual([
      ["stage", "Staging", "3"],
      ["stage", "Production", "5"],
      ["alias", "champion", "1"],
    ]);
  });

  test("include and exclude patterns decide which models this owner manages", () => {
    const models = [
      model({ name: "fraud-a", latest_versions: [version("1", "Production")] }),
      model({ name: "churn", latest_versions: [version("1", "Production")] }),
    ];
    expect(servingSlots(models, settings({ includeModels: ["fraud-*"] })).map((s) => s.model)).toEqual([
      "fraud-a",
    ]);
    expect(servingSlots(models, settings({ excludeModels: ["fraud-*"] })).map((s) => s.model)).toEqual([
      "churn",
    ]);
  });
});

describe("plan", () => {
  const production = model({ latest_versions: [version("7", "Production")] });

  test("wrapper-image mode mounts the storage and gives the model path; labels and annotations say what is served", () => {
    const s = settings({
      defaultImage: "registry.example/wrapper:1.0",
      storageRoot: "/mnt/mlflow",
      storageClaim: "mlflow-artifacts",
    });
    const { desired, problems } = plan({ slots: resolved(servingSlots([production], s)) }, s);
    expect(problems).toEqual([]);
    const [{ object: sdep, ...planned }] = desired;
    expect(planned).toEqual({ model: "iris", slot: "stage:Production", version: "7" });
    expect(sdep.metadata.labels).toMatchObject({
      [LABELS.managedBy]: "mlflow2seldon",
      [LABELS.owner]: "service",
      [LABELS.version]: "7",
      [LABELS.slot]: "production",
    });
    expect(sdep.metadata.annotations).toMatchObject({
      [ANNOTATIONS.modelName]: "iris",
      [ANNOTATIONS.runId]: "run7",
      [ANNOTATIONS.source]: "runs:/run7/model",
    });
    const container = (sdep.spec as any).predictors[0].componentSpecs[0].spec.containers[0];
    expect(container.image).toBe("registry.example/wrapper:1.0");
    expect(container.env).toContainEqual({ name: "MODEL_PATH", value: "/mnt/mlflow/1/run7/artifacts/model" });
    expect(container.volumeMounts[0]).toMatchObject({ mountPath: "/mnt/mlflow", readOnly: true });
  });

  test("the applied hash changes with any field and only then, so a removed field is applied away", () => {
    const s = settings({ defaultImage: "wrapper:1" });
    const hash = (tags: Record<string, string>) =>
      plan({ slots: resolved(servingSlots([model({ ...production, tags })], s)) }, s).desired[0].object
        .metadata.annotations[ANNOTATIONS.appliedHash];
    const withLimits = hash({ [MODEL_TAGS.resources]: '{"limits":{"cpu":"3"}}' });
    expect(hash({})).toMatch(/^[0-9a-f]{32}$/);
    expect(hash({})).toBe(hash({}));
    expect(withLimits).not.toBe(hash({}));
    expect(withLimits).toBe(hash({ [MODEL_TAGS.resources]: '{"limits":{"cpu":"3"}}' }));
  });

  test("the model's image tag overrides the default image", () => {
    const s = settings({ defaultImage: "wrapper:1", imageTag: "deploy-image" });
    const tagged = model({ ...production, tags: { "deploy-image": "wrapper:2" } });
    const { desired } = plan({ slots: resolved(servingSlots([tagged], s)) }, s);
    expect((desired[0].object.spec as any).predictors[0].componentSpecs[0].spec.containers[0].image).toBe(
      "wrapper:2",
    );
  });

  test("mlflow-server mode maps the artifact root onto the object store and names the credentials Secret", () => {
    const s = settings({
      servingMode: "mlflow-server",
      modelUriPrefix: "s3://models/mlartifacts",
      credentialsSecret: "s3-creds",
    });
    const { desired } = plan({ slots: resolved(servingSlots([production], s)) }, s);
    const graph = (desired[0].object.spec as any).predictors[0].graph;
    expect(graph).toMatchObject({
      implementation: "MLFLOW_SERVER",
      modelUri: "s3://models/mlartifacts/1/run7/artifacts/model",
      envSecretRefName: "s3-creds",
    });
    expect(JSON.stringify(desired[0].object)).not.toMatch(/password|token/i);
  });

  test("replicas, protocol and resources can be overridden per model by tags", () => {
    const s = settings({ defaultImage: "wrapper:1" });
    const tagged = model({
      ...production,
      tags: {
        [MODEL_TAGS.replicas]: "3",
        [MODEL_TAGS.protocol]: "v2",
        [MODEL_TAGS.resources]: '{"limits":{"cpu":"2"}}',
      },
    });
    const spec = plan({ slots: resolved(servingSlots([tagged], s)) }, s).desired[0].object.spec as any;
    expect(spec.protocol).toBe("v2");
    expect(spec.predictors[0].replicas).toBe(3);
    expect(spec.predictors[0].componentSpecs[0].spec.containers[0].resources).toEqual({
      limits: { cpu: "2" },
    });
  });

  test("a bad tag is a problem naming the tag and value; the model's objects are retained, others still planned", () => {
    const s = settings({ defaultImage: "wrapper:1" });
    const bad = model({ ...production, tags: { [MODEL_TAGS.replicas]: "many" } });
    const good = model({ name: "good", latest_versions: [{ ...version("1", "Production"), name: "good" }] });
    const result = plan({ slots: resolved(servingSlots([bad, good], s)) }, s);
    expect(result.desired.map((d) => d.model)).toEqual(["good"]);
    expect(result.problems[0].message).toContain('mlflow2seldon.replicas="many"');
    expect(result.retainedModels.size).toBe(1);
  });

  test("an artifact outside the mounted root is a problem, not a wrong path", () => {
    const s = settings({ defaultImage: "wrapper:1" });
    const slots = resolved(servingSlots([production], s)).map((x) => ({
      ...x,
      location: { ...x.location, artifactUri: "hdfs://elsewhere/model" },
    }));
    expect(plan({ slots }, s).problems[0].message).toContain("hdfs://elsewhere/model");
  });
});

describe("progressive rollout", () => {
  const s = (overrides: Partial<EngineSettingsInput> = {}) =>
    settings({ defaultImage: "wrapper:1", stages: ["Production"], ...overrides });
  const iris = (
    tags: Record<string, string> = {},
    stages: [string, string][] = [
      ["3", "Production"],
      ["4", "Staging"],
    ],
  ) =>
    model({
      latest_versions: stages.map(([v, stage]) => version(v, stage)),
      aliases: [{ alias: "challenger", version: "5" }],
      tags,
    });
  const planned = (m: RegisteredModel, settingsUsed = s()) =>
    plan({ slots: resolved(servingSlots([m], settingsUsed)) }, settingsUsed);
  type Predictor = {
    name: string;
    traffic?: number;
    shadow?: boolean;
    componentSpecs: { spec: { containers: { env: { name: string; value: string }[] }[] } }[];
  };
  const predictorsOf = (result: ReturnType<typeof plan>) =>
    (result.desired[0].object.spec.predictors as Predictor[]).map((p) => ({
      name: p.name,
      traffic: p.traffic,
      shadow: p.shadow,
      version: p.componentSpecs[0].spec.containers[0].env.find((e) => e.name === "MODEL_VERSION")?.value,
    }));

  test("a canary from a stage splits the traffic of the Production object between two predictors", () => {
    const result = planned(iris({ [MODEL_TAGS.canary]: '{"from":"Staging","percent":10}' }));
    expect(predictorsOf(result)).toEqual([
      { name: "default", traffic: 90, shadow: undefined, version: "3" },
      { name: "canary", traffic: 10, shadow: undefined, version: "4" },
    ]);
    expect(result.desired[0].candidate).toEqual({
      version: "4",
      from: { kind: "stage", name: "Staging" },
      mode: "canary",
      percent: 10,
    });
    expect(result.desired[0].object.metadata.annotations[ANNOTATIONS.candidate]).toBe(
      "canary 10% of version 4 (stage:Staging)",
    );
  });

  test("a shadow from an alias mirrors every request; the setting applies to every model", () => {
    const result = planned(iris(), s({ canary: { from: "@challenger", mode: "shadow" } }));
    expect(predictorsOf(result)).toEqual([
      { name: "default", traffic: 100, shadow: undefined, version: "3" },
      { name: "shadow", traffic: undefined, shadow: true, version: "5" },
    ]);
  });

  test("a model's tag overrides the setting, and none turns the rollout off", () => {
    const setting = s({ canary: { from: "Staging", percent: 20 } });
    expect(
      predictorsOf(planned(iris({ [MODEL_TAGS.canary]: '{"from":"Staging","percent":50}' }), setting)).map(
        (p) => p.traffic,
      ),
    ).toEqual([50, 50]);
    expect(predictorsOf(planned(iris({ [MODEL_TAGS.canary]: "none" }), setting))).toHaveLength(1);
  });

  test("a promoted or archived candidate leaves one predictor, as before the rollout", () => {
    const tag = { [MODEL_TAGS.canary]: '{"from":"Staging","percent":10}' };
    const single = planned(iris()).desired[0].object;
    const promoted = planned(
      iris(tag, [
        ["4", "Production"],
        ["3", "Archived"],
      ]),
    ).desired[0];
    expect(promoted.candidate).toBeUndefined();
    const archived = planned(
      iris(tag, [
        ["3", "Production"],
        ["4", "Archived"],
      ]),
    ).desired[0];
    expect(archived.object).toEqual(single);
  });

  test("a bad rollout is a problem naming the tag and value; the model's objects are retained", () => {
    for (const value of [
      '{"from":"Staging"}',
      '{"from":"Staging","percent":150}',
      "ten percent",
      '{"from":"Staging","percent":10,"to":"Prod uction"}',
    ]) {
      const result = planned(iris({ [MODEL_TAGS.canary]: value }));
      expect(result.desired).toEqual([]);
      expect(result.problems[0].message).toContain(`mlflow2seldon.canary=${JSON.stringify(value)}`);
      expect(result.retainedModels.size).toBe(1);
    }
  });

  test("a bad rollout setting names the setting", () => {
    expect(() => s({ canary: { from: "Staging", mode: "shadow", percent: 10 } })).toThrow(/percent/);
  });
});

describe("targets", () => {
  const s = (target: "kserve" | "seldon-v2", overrides: Partial<EngineSettingsInput> = {}) =>
    settings({
      target,
      stages: ["Production"],
      artifactRoot: "mlflow-artifacts:/",
      modelUriPrefix: "s3://models/artifacts",
      ...overrides,
    });
  const iris = (tags: Record<string, string> = {}) =>
    model({ latest_versions: [version("3", "Production"), version("4", "Staging")], tags });
  const planned = (m: RegisteredModel, used: ReturnType<typeof s>) =>
    plan({ slots: resolved(servingSlots([m], used)) }, used);

  test("kserve: an InferenceService of KServe's mlflow format reading the version's storage URI", () => {
    const [object] = planned(iris(), s("kserve", { serviceAccount: "reader", replicas: 2 })).desired.map(
      (d) => d.object,
    );
    expect(object.apiVersion).toBe("serving.kserve.io/v1beta1");
    expect(object.kind).toBe("InferenceService");
    expect(object.spec).toEqual({
      predictor: {
        minReplicas: 2,
        serviceAccountName: "reader",
        model: {
          modelFormat: { name: "mlflow" },
          protocolVersion: "v2",
          storageUri: "s3://models/artifacts/1/run3/artifacts/model",
        },
      },
    });
  });

  test("kserve: in Knative mode a canary names the candidate with canaryTrafficPercent; in Standard mode (or unset) it is refused; a shadow is a problem naming the tag", () => {
    const tagged = iris({ [MODEL_TAGS.canary]: '{"from":"Staging","percent":20}' });
    const canary = planned(tagged, s("kserve", { kserveDeploymentMode: "Knative" }));
    expect(canary.desired[0].object.metadata.annotations["serving.kserve.io/deploymentMode"]).toBe("Knative");
    expect(canary.desired[0].object.spec.predictor).toMatchObject({
      canaryTrafficPercent: 20,
      model: { storageUri: "s3://models/artifacts/1/run4/artifacts/model" },
    });
    for (const mode of ["Standard", undefined] as const) {
      const refused = planned(tagged, s("kserve", { kserveDeploymentMode: mode }));
      expect(refused.desired).toEqual([]);
      expect(refused.problems[0].message).toMatch(
        /^tag mlflow2seldon.canary: a KServe canary splits traffic only in KServe's Knative mode/,
      );
    }
    expect(() => s("kserve", { canary: { from: "Staging", percent: 10 } })).toThrow(
      /splits traffic only in KServe.s Knative mode/,
    );
    const shadow = planned(iris({ [MODEL_TAGS.canary]: '{"from":"Staging","mode":"shadow"}' }), s("kserve"));
    expect(shadow.desired).toEqual([]);
    expect(shadow.problems[0].message).toBe(
      "tag mlflow2seldon.canary: the kserve target has no shadow: use a canary",
    );
  });

  test("seldon-v2: a Model with the mlflow requirement, its secret and the memory limit", () => {
    const used = s("seldon-v2", { credentialsSecret: "s3-creds", resources: { limits: { memory: "2Gi" } } });
    expect(planned(iris(), used).desired[0].object).toMatchObject({
      apiVersion: "mlops.seldon.io/v1alpha1",
      kind: "Model",
      spec: {
        storageUri: "s3://models/artifacts/1/run3/artifacts/model",
        requirements: ["mlflow"],
        replicas: 1,
        secretName: "s3-creds",
        memory: "2Gi",
      },
    });
  });

  test("settings a target cannot honour name the setting; a tag asking for them is a problem", () => {
    expect(() => s("seldon-v2", { canary: { from: "Staging", percent: 10 } })).toThrow(/seldon-v2 target/);
    expect(() => s("kserve", { servingMode: "wrapper-image" })).toThrow(/needs the seldon-v1 target/);
    const wrapped = planned(iris({ [MODEL_TAGS.servingMode]: "wrapper-image" }), s("kserve"));
    expect(wrapped.problems[0].message).toContain(
      "mlflow2seldon.serving-mode=wrapper-image needs the seldon-v1 target",
    );
  });
});
