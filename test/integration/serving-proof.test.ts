// That a Seldon Core v2 Model serves (no Seldon v2 scheduler runs on the testbed; KServe and
// Seldon Core v1 are proven through their controllers in serving-controllers.test.ts): a real
// scikit-learn model logged to the testbed's MLflow server whose artifacts live in the S3 object
// store; the sync service writes the Model; its storage URI is fetched the way a storage
// initializer does (kserve-storage, with the object store's endpoint and credentials) and loaded
// in MLServer with its MLflow runtime, the server Seldon v2 runs for MLflow models. V2 inference
// over REST and over gRPC returns the predictions of the registered model loaded in Python.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { TARGETS } from "../../engine/serving-targets";
import { freshNamespace, listServingObjects, storageUriOf } from "../support/cluster";
import { mlflow, uniqueModelName } from "../support/mlflow";
import { syncFixture } from "../support/sync";
import { freePort } from "../support/wait";
import { iris, irisV2Request, python, testbedSetting, v2Predictions } from "../support/models";
import { ANNOTATIONS } from "../../engine/vocabulary";

const env = testbedSetting;
const s3MlflowUrl = () => env("M2S_TESTBED_S3_MLFLOW_URI");

/** What a serving pod's storage initializer sees: the object store's endpoint and credentials. */
const objectStore = () => ({
  AWS_ENDPOINT_URL: env("M2S_TESTBED_S3_ENDPOINT"),
  AWS_ACCESS_KEY_ID: env("M2S_TESTBED_S3_ACCESS_KEY_ID"),
  AWS_SECRET_ACCESS_KEY: env("M2S_TESTBED_S3_SECRET_ACCESS_KEY"),
  AWS_DEFAULT_REGION: "us-east-1",
});

const model = uniqueModelName("iris_s3");
let expected: number[];
const work = mkdtempSync(join(tmpdir(), "serving-proof-"));

beforeAll(async () => {
  expect(iris(s3MlflowUrl(), "train", model).versions).toEqual(["1", "2"]);
  await mlflow(s3MlflowUrl()).transitionStage(model, "1", "Production");
  expected = iris(s3MlflowUrl(), "predict", `models:/${model}/1`).predictions;
}, 120_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

test.each(["seldon-v2"] as const)(
  "%s: the object's storage URI, fetched as the storage initializer does, serves the model's predictions in MLServer over REST and gRPC",
  async (target) => {
    const service = syncFixture(await freshNamespace(`proof-${target}`), model).service({
      M2S_MLFLOW_HOST: s3MlflowUrl(),
      M2S_INCLUDE_MODELS: model,
      M2S_TARGET: target,
      M2S_MODEL_URI_PREFIX: env("M2S_TESTBED_S3_ARTIFACTS"),
    });
    expect((await service.runCycle()).ok).toBe(true);
    const [object] = (await listServingObjects(TARGETS[target], service.config.engine.namespace)).filter(
      (o) => o.metadata.annotations[ANNOTATIONS.modelName] === model,
    );
    const storageUri = storageUriOf(object);
    expect(storageUri).toMatch(/^s3:\/\/mlflow\/artifacts\//);

    const modelDir = join(work, target, "model");
    python(
      env("M2S_TESTBED_STORAGE_PYTHON"),
      [
        "-c",
        "import json, sys; from kserve_storage import Storage; print(json.dumps(Storage.download(sys.argv[1], sys.argv[2])))",
        storageUri,
        modelDir,
      ],
      { env: objectStore() },
    );
    expect(existsSync(join(modelDir, "MLmodel"))).toBe(true);

    const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
    const repository = join(work, target, "models");
    mkdirSync(join(repository, "iris"), { recursive: true });
    writeFileSync(
      join(repository, "settings.json"),
      JSON.stringify({ host: "127.0.0.1", http_port: http, grpc_port: grpc, metrics_port: metrics }),
    );
    writeFileSync(
      join(repository, "iris", "model-settings.json"),
      JSON.stringify({
        name: "iris",
        implementation: "mlserver_mlflow.MLflowRuntime",
        parameters: { uri: modelDir },
      }),
    );
    const mlserverPython = env("M2S_TESTBED_MLSERVER_PYTHON");
    const server: ChildProcess = spawn(join(dirname(mlserverPython), "mlserver"), ["start", repository], {
      detached: true,
      stdio: "ignore",
    });
    try {
      const predictions = await v2Predictions("iris", irisV2Request(s3MlflowUrl()), http, grpc);
      expect(predictions).toEqual({ rest: expected, grpc: expected });
    } finally {
      process.kill(-server.pid!, "SIGTERM");
      if (server.exitCode === null) await once(server, "exit");
    }
  },
  240_000,
);
