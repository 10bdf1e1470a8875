// That each target's object serves: a real scikit-learn model logged to the testbed's MLflow
// server whose artifacts live in the S3 object store; the sync service writes the target's
// object; its storage URI is fetched the way KServe's storage initializer does (kserve-storage,
// with the object store's endpoint and credentials) and loaded in MLServer with its MLflow
// runtime, the server KServe and Seldon v2 run for MLflow models. No kubelet runs here, so what
// the pod would do runs as local processes. V2 inference over REST and over gRPC returns the
// predictions of the registered model loaded in Python.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { TARGETS } from "../../engine/serving-targets";
import { freshNamespace, listServingObjects, storageUriOf } from "../support/cluster";
import { mlflow, uniqueModelName } from "../support/mlflow";
import { syncFixture } from "../support/sync";
import { repoRoot } from "../support/testbed-env";
import { eventually, freePort } from "../support/wait";
import { ANNOTATIONS } from "../../engine/vocabulary";

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: the testbed environment was not loaded`);
  return value;
};
const s3MlflowUrl = () => env("M2S_TESTBED_S3_MLFLOW_URI");

/** Runs a Python program of one of the testbed's environments; its last stdout line as JSON. */
function python(
  interpreter: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string } = {},
) {
  const result = spawnSync(interpreter, args, {
    encoding: "utf8",
    env: { ...process.env, ...options.env },
    input: options.input,
  });
  if (result.status !== 0) throw new Error(`${args[0]} failed: ${result.stderr.slice(-2000)}`);
  return JSON.parse(result.stdout.trim().split("\n").at(-1) as string);
}
const iris = (...args: string[]) =>
  python(env("M2S_TESTBED_PYTHON"), [join(repoRoot, "demo", "iris.py"), ...args], {
    env: { MLFLOW_TRACKING_URI: s3MlflowUrl() },
  });

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
  expect(iris("train", model).versions).toEqual(["1", "2"]);
  await mlflow(s3MlflowUrl()).transitionStage(model, "1", "Production");
  expected = iris("predict", `models:/${model}/1`).predictions;
}, 120_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

test.each(["kserve", "seldon-v2"] as const)(
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
      await eventually(
        "MLServer to load the model",
        async () => (await fetch(`http://127.0.0.1:${http}/v2/models/iris/ready`)).ok,
        120_000,
      );
      const request = JSON.stringify(iris("v2", "-"));
      const rest = await fetch(`http://127.0.0.1:${http}/v2/models/iris/infer`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: request,
      });
      expect(rest.status).toBe(200);
      const restReply = (await rest.json()) as { outputs: { data: number[] }[] };
      expect(restReply.outputs[0].data).toEqual(expected);

      const grpcReply = python(
        mlserverPython,
        [join(repoRoot, "test", "fixtures", "v2_grpc_infer.py"), `127.0.0.1:${grpc}`, "iris"],
        { input: request },
      );
      expect(grpcReply.outputs[0].data).toEqual(expected);
    } finally {
      process.kill(-server.pid!, "SIGTERM");
      if (server.exitCode === null) await once(server, "exit");
    }
  },
  240_000,
);
