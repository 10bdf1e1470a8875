// Real models on the testbed: scikit-learn iris classifiers registered in MLflow (demo/iris.py),
// their predictions as `mlflow.pyfunc` gives them, and V2 inference requests to a model server
// over REST and gRPC, for the tests that prove an object serves.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "./testbed-env";
import { eventually } from "./wait";
import { testbedSetting } from "../../testbed/setting";

export { testbedSetting };

/** Runs a Python program of one of the testbed's environments; its last stdout line as JSON. */
export function python(
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

/** demo/iris.py against the MLflow server at `trackingUri`. */
export const iris = (trackingUri: string, ...args: string[]) =>
  python(testbedSetting("M2S_TESTBED_PYTHON"), [join(repoRoot, "demo", "iris.py"), ...args], {
    env: { MLFLOW_TRACKING_URI: trackingUri },
  });

/** The V2 inference request for demo/iris.py's sample flowers. */
export const irisV2Request = (trackingUri: string) => JSON.stringify(iris(trackingUri, "v2", "-"));

/**
 * The predictions a V2 model server answers for `request`, over REST (`httpPort`) and gRPC
 * (`grpcPort`), once the model reports ready.
 */
export async function v2Predictions(model: string, request: string, httpPort: number, grpcPort: number) {
  await eventually(
    `model ${model} ready on port ${httpPort}`,
    async () => (await fetch(`http://127.0.0.1:${httpPort}/v2/models/${model}/ready`)).ok,
    180_000,
  );
  const rest = await fetch(`http://127.0.0.1:${httpPort}/v2/models/${model}/infer`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: request,
  });
  if (rest.status !== 200) throw new Error(`REST inference answered ${rest.status}: ${await rest.text()}`);
  const restReply = (await rest.json()) as { outputs: { data: number[] }[] };
  const grpcReply = python(
    testbedSetting("M2S_TESTBED_MLSERVER_PYTHON"),
    [join(repoRoot, "test", "fixtures", "v2_grpc_infer.py"), `127.0.0.1:${grpcPort}`, model],
    { input: request },
  );
  return { rest: restReply.outputs[0].data, grpc: grpcReply.outputs[0].data as number[] };
}
