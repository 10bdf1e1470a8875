// A real scikit-learn model registered in MLflow, served in wrapper-image mode
// through a SeldonDeployment whose model location is what a pod would load. No kubelet runs
// here, so the model server a Seldon pod would start runs as a local process instead.
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { freshNamespace, listSeldonDeployments } from "../support/cluster";
import { mlflow, uniqueModelName } from "../support/mlflow";
import { syncFixture } from "../support/sync";
import { repoRoot } from "../support/testbed-env";
import { ANNOTATIONS } from "../../engine/vocabulary";

const python = () => process.env.M2S_TESTBED_PYTHON as string;
const iris = (...args: string[]) => {
  const result = spawnSync(python(), [join(repoRoot, "demo", "iris.py"), ...args], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`iris.py ${args[0]} failed: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split("\n").at(-1) as string);
};
const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });

test("the SeldonDeployment's model path serves the registered model's predictions", async () => {
  const name = uniqueModelName("iris_demo");
  expect(iris("train", name).versions).toEqual(["1", "2"]);
  await mlflow().transitionStage(name, "1", "Production");

  const artifactsRoot = process.env.M2S_TESTBED_ARTIFACTS_ROOT as string;
  const service = syncFixture(await freshNamespace("demo"), name).service({
    M2S_INCLUDE_MODELS: name,
    M2S_MLFLOW_STORAGE_ROOT: artifactsRoot,
  });
  expect((await service.runCycle()).ok).toBe(true);
  const [sdep] = (await listSeldonDeployments(service.config.engine.namespace)).filter(
    (o) => o.metadata.annotations[ANNOTATIONS.modelName] === name,
  );
  const env = sdep.spec.predictors[0].componentSpecs[0].spec.containers[0].env as {
    name: string;
    value: string;
  }[];
  const modelPath = env.find((e) => e.name === "MODEL_PATH")!.value;
  const downloadUri = await mlflow().getDownloadUri(name, "1");
  expect(modelPath).toBe(join(artifactsRoot, downloadUri.replace(/^mlflow-artifacts:\//, "")));
  expect(existsSync(join(modelPath, "MLmodel"))).toBe(true);

  const port = 15000 + Math.floor(Math.random() * 5000);
  const server = spawn(
    "mlflow",
    ["models", "serve", "-m", modelPath, "-h", "127.0.0.1", "-p", String(port), "--env-manager", "local"],
    {
      env: { ...process.env, PATH: `${join(python(), "..")}:${process.env.PATH}` },
      detached: true,
      stdio: "ignore",
    },
  );
  const body = JSON.stringify(iris("sample", "-"));
  try {
    let served: { predictions: number[] } | undefined;
    for (let i = 0; i < 150 && !served; i++) {
      await new Promise((r) => setTimeout(r, 200));
      const response = await fetch(`http://127.0.0.1:${port}/invocations`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      }).catch(() => undefined);
      if (response?.ok) served = (await response.json()) as { predictions: number[] };
    }
    const direct = iris("predict", `models:/${name}/1`);
    expect(served?.predictions).toEqual(direct.predictions);
  } finally {
    if (server.exitCode === null) {
      process.kill(-server.pid!, "SIGTERM");
      await once(server, "exit");
    }
  }
  // The server's workers shut down gracefully after the launcher: wait for the whole group.
  const groupAlive = () => spawnSync("pgrep", ["-g", String(server.pid)]).status === 0;
  for (let i = 0; i < 100 && groupAlive(); i++) await new Promise((r) => setTimeout(r, 100));
  expect(groupAlive()).toBe(false);
  expect(await portOpen(port)).toBe(false);
});
