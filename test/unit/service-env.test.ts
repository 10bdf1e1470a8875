import { ConfigError } from "../../engine/errors";
import { ENGINE_SETTING_ENV, engineSettingsEnv, parseServiceEnv } from "../../service/env";

test("the original service's M2S_* variables keep their meaning", () => {
  const config = parseServiceEnv({
    M2S_MLFLOW_HOST: "mlflow.mlflow.svc:5000",
    M2S_MLFLOW_STORAGE_ROOT: "/storage",
    M2S_SELDON_NEURO_DEF_IMAGE: "registry.example.com/wrapper:2.1",
    M2S_MLFLOW_DEPLOY_IMG_TAG: "image",
    M2S_SELDON_DEPLOYMENT_NS: "serving",
    M2S_SRC_NEURO_CLUSTER: "default",
  });
  expect(config.mlflow.url).toBe("http://mlflow.mlflow.svc:5000");
  expect(config.engine).toMatchObject({
    storageRoot: "/storage",
    defaultImage: "registry.example.com/wrapper:2.1",
    imageTag: "image",
    namespace: "serving",
  });
  expect(config.sourceCluster).toBe("default");
  expect(config.engine.stages).toEqual(["Staging", "Production"]);
});

test("every problem names its variable and never echoes a secret", () => {
  let error: unknown;
  try {
    parseServiceEnv({
      M2S_MLFLOW_HOST: "http://m:5000",
      M2S_REPLICAS: "-1",
      M2S_SYNC_INTERVAL_SECONDS: "soon",
      M2S_MLFLOW_TOKEN: "",
    });
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ConfigError);
  const settings = (error as ConfigError).problems.map((p) => p.setting);
  expect(settings).toEqual(
    expect.arrayContaining(["M2S_REPLICAS", "M2S_SYNC_INTERVAL_SECONDS", "M2S_MLFLOW_TOKEN"]),
  );
  expect((error as ConfigError).message).toContain('got "soon"');
});

test("engine settings written as M2S_* variables parse back to the same settings, every one of them", () => {
  const env = {
    M2S_TARGET: "kserve",
    M2S_SELDON_DEPLOYMENT_NS: "models",
    M2S_STAGES: "Production",
    M2S_ALIASES: "champion,challenger",
    M2S_SELDON_NEURO_DEF_IMAGE: "registry.example.com/wrapper:2",
    M2S_SERVING_MODE: "mlflow-server",
    M2S_MLFLOW_DEPLOY_IMG_TAG: "2.0",
    M2S_MLFLOW_STORAGE_ROOT: "/mnt/models",
    M2S_MLFLOW_STORAGE_CLAIM: "models-pvc",
    M2S_MLFLOW_ARTIFACT_ROOT: "s3://bucket/artifacts",
    M2S_MODEL_URI_PREFIX: "s3://bucket/served",
    M2S_SELDON_CREDENTIALS_SECRET: "s3-credentials",
    M2S_SERVICE_ACCOUNT: "model-reader",
    M2S_REPLICAS: "3",
    M2S_RESOURCES: '{"limits":{"cpu":"1"}}',
    M2S_CANARY: '{"from":"Staging","percent":10}',
    M2S_PROTOCOL: "v2",
    M2S_KSERVE_DEPLOYMENT_MODE: "Knative",
    M2S_OWNER: "team-a",
    M2S_INCLUDE_MODELS: "fraud-*,churn-*",
    M2S_EXCLUDE_MODELS: "fraud-test*",
  };
  const config = parseServiceEnv({ M2S_MLFLOW_HOST: "http://m:5000", ...env });
  // Every engine setting is given, and differs from its default: none is left out of the check.
  expect(Object.keys(env).sort()).toEqual(Object.values(ENGINE_SETTING_ENV).sort());
  const defaults = parseServiceEnv({ M2S_MLFLOW_HOST: "http://m:5000" }).engine;
  for (const field of Object.keys(ENGINE_SETTING_ENV) as (keyof typeof defaults)[])
    expect([field, config.engine[field]]).not.toEqual([field, defaults[field]]);
  const again = parseServiceEnv({ M2S_MLFLOW_HOST: "http://m:5000", ...engineSettingsEnv(config.engine) });
  expect(again.engine).toEqual(config.engine);
});
