// Runs the Pod a serving controller made as a kubelet would (testbed/kubelet.ts), for `make demo`:
//   node dist/testbed/run-pod.js TARGET NAMESPACE OBJECT MODEL_URI
// Waits (up to 2 minutes) for the newest Pod of the serving object OBJECT whose storage
// initializer fetches MODEL_URI, runs it, prints how each container runs and the V2 URL of the
// model ("v2 http://127.0.0.1:40123/v2/models/model"), then "running"; stops it on SIGTERM.
import { CoreV1Api, KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { join } from "node:path";
import { eventually } from "./eventually";
import { IMAGES_NOT_RUN, imageStandIns } from "./image-stand-ins";
import { runPod } from "./kubelet";
import { SERVING_PODS, type ControllerTarget } from "./serving-pods";

const WAIT_MS = 120_000;

/** The newest Pod of `labelSelector` whose storage initializer fetches `modelUri`. */
function podFetching(core: CoreV1Api, namespace: string, labelSelector: string, modelUri: string) {
  const fetches = (pod: V1Pod) => pod.spec!.initContainers?.[0]?.args?.[0] === modelUri;
  return eventually(
    `a Pod of ${labelSelector} in ${namespace} that fetches ${modelUri}`,
    async () => {
      const { items } = await core.listNamespacedPod({ namespace, labelSelector });
      return items
        .filter(fetches)
        .sort((a, b) => +b.metadata!.creationTimestamp! - +a.metadata!.creationTimestamp!)[0];
    },
    WAIT_MS,
    500,
  );
}

async function main() {
  const [target, namespace, object, modelUri] = process.argv.slice(2);
  if (!modelUri || !(target in SERVING_PODS))
    throw new Error(`usage: run-pod.js ${Object.keys(SERVING_PODS).join("|")} NAMESPACE OBJECT MODEL_URI`);
  const serving = SERVING_PODS[target as ControllerTarget];
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const pod = await podFetching(core, namespace, serving.selector(object), modelUri);
  const logDir = join(process.env.M2S_TESTBED_DATA_DIR ?? ".", "pods");
  const running = await runPod(pod, { core, standIns: imageStandIns(), notRun: IMAGES_NOT_RUN, logDir });
  const stop = () => void running.stop().then(() => process.exit(0));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  process.stdout.write(`Pod ${pod.metadata!.name} (container logs in ${logDir}):\n`);
  for (const line of running.report) process.stdout.write(`  ${line}\n`);
  process.stdout.write(
    `v2 http://127.0.0.1:${running.port(serving.http)}/v2/models/${serving.model(object)}\n`,
  );
  process.stdout.write("running\n");
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
