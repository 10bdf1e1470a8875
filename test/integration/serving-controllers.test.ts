// The serving systems act on the objects the sync service writes: KServe v0.20's controller
// manager (Standard mode) and Seldon Core's v1.17.1 operator run on the testbed with their
// webhooks. For a Production version their webhooks accept the object, their controllers write
// a Deployment, kube-controller-manager a ReplicaSet and a Pod, KServe's pod mutator injects the
// storage initializer. That Pod, read from the API server, then runs as a kubelet would run it
// (test/support/kubelet.ts): its storage initializer fetches the model from the S3 object store
// with the credentials the Pod names, its model server (MLServer with the MLflow runtime) loads it,
// and V2 requests over REST and gRPC return the predictions `mlflow.pyfunc` gives. A promotion
// rolls the Deployment to the new version; an archive removes our object and, by garbage
// collection, the controller's Deployment and Service.
import { AppsV1Api, type V1Pod } from "@kubernetes/client-node";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { TARGETS } from "../../engine/serving-targets";
import { ANNOTATIONS } from "../../engine/vocabulary";
import { core, customObjects, freshNamespace, kubeConfig, listServingObjects } from "../support/cluster";
import { imageRepository, runPod, type ImageStandIn } from "../support/kubelet";
import { mlflow, uniqueModelName } from "../support/mlflow";
import { iris, irisV2Request, testbedSetting, v2Predictions } from "../support/models";
import { syncFixture } from "../support/sync";
import { eventually } from "../support/wait";
import { repoRoot } from "../support/testbed-env";

const setting = testbedSetting;
const s3MlflowUrl = () => setting("M2S_TESTBED_S3_MLFLOW_URI");
const apps = () => kubeConfig().makeApiClient(AppsV1Api);
const work = mkdtempSync(join(tmpdir(), "serving-controllers-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The programs that stand for the images the controllers name (their Dockerfiles' entrypoints). */
const standIns = (): Record<string, ImageStandIn> => {
  const mlserver: ImageStandIn = {
    entrypoint: [join(dirname(setting("M2S_TESTBED_MLSERVER_PYTHON")), "mlserver"), "start"],
    cmd: ["$(MLSERVER_MODELS_DIR)"],
    env: { MLSERVER_MODELS_DIR: "/mnt/models" },
    defaultPorts: { MLSERVER_HTTP_PORT: 8080, MLSERVER_GRPC_PORT: 8081, MLSERVER_METRICS_PORT: 8082 },
    standsFor: "MLServer 1.7.1 with mlserver-mlflow from the testbed's venv",
  };
  return {
    "kserve/storage-initializer": {
      entrypoint: [
        setting("M2S_TESTBED_STORAGE_PYTHON"),
        join(repoRoot, "test", "fixtures", "storage-initializer-entrypoint.py"),
      ],
      standsFor: "kserve-storage 0.20.0 running the image's initializer-entrypoint",
    },
    "seldonio/mlserver": mlserver,
    "seldonio/rclone-storage-initializer": {
      entrypoint: [setting("M2S_TESTBED_RCLONE"), "copy"],
      env: {
        RCLONE_CONFIG_GS_TYPE: "google cloud storage",
        RCLONE_CONFIG_GS_ANONYMOUS: "true",
        RCLONE_VERBOSE: "1",
      },
      standsFor: "Debian's rclone (the image runs `rclone copy`)",
    },
  };
};
const notRun = {
  "seldonio/seldon-core-executor":
    "Seldon's service orchestrator routes to the model container; requests go to that container's ports as the predictor's model Service does",
};

const objectStoreEndpoint = () => new URL(setting("M2S_TESTBED_S3_ENDPOINT"));

/** The one serving object of `model` the service wrote in `namespace`. */
async function servingObject(target: keyof typeof TARGETS, namespace: string, model: string) {
  const objects = await listServingObjects(TARGETS[target], namespace);
  return objects.find((o) => o.metadata.annotations[ANNOTATIONS.modelName] === model);
}

/** The Pods of `namespace` whose labels include `selector`, newest first. */
async function podsOf(namespace: string, labelSelector: string): Promise<V1Pod[]> {
  const { items } = await core().listNamespacedPod({ namespace, labelSelector });
  return items.sort((a, b) => +b.metadata!.creationTimestamp! - +a.metadata!.creationTimestamp!);
}

async function predictionsOfPod(pod: V1Pod, model: string, httpPort: number, grpcPort: number) {
  const running = await runPod(pod, { standIns: standIns(), notRun, logDir: join(work, "logs") });
  try {
    return {
      ...(await v2Predictions(
        model,
        irisV2Request(s3MlflowUrl()),
        running.port(httpPort),
        running.port(grpcPort),
      )),
      report: running.report,
    };
  } finally {
    await running.stop();
  }
}

describe("on KServe's controller (Standard mode)", () => {
  const model = uniqueModelName("iris_kserve");
  let namespace: string;
  let expected: Record<string, number[]>;

  beforeAll(async () => {
    expect(iris(s3MlflowUrl(), "train", model).versions).toEqual(["1", "2"]);
    expected = {
      "1": iris(s3MlflowUrl(), "predict", `models:/${model}/1`).predictions,
      "2": iris(s3MlflowUrl(), "predict", `models:/${model}/2`).predictions,
    };
    namespace = await freshNamespace("kserve-ctl");
    // The object store's credentials as KServe reads them: a Secret the predictor's service
    // account lists, its endpoint in KServe's annotations.
    await core().createNamespacedSecret({
      namespace,
      body: {
        metadata: {
          name: "models-s3",
          annotations: {
            "serving.kserve.io/s3-endpoint": objectStoreEndpoint().host,
            "serving.kserve.io/s3-usehttps": "0",
            "serving.kserve.io/s3-region": "us-east-1",
          },
        },
        stringData: {
          AWS_ACCESS_KEY_ID: setting("M2S_TESTBED_S3_ACCESS_KEY_ID"),
          AWS_SECRET_ACCESS_KEY: setting("M2S_TESTBED_S3_SECRET_ACCESS_KEY"),
        },
      },
    });
    await core().createNamespacedServiceAccount({
      namespace,
      body: { metadata: { name: "model-reader" }, secrets: [{ name: "models-s3" }] },
    });
  }, 180_000);

  test("a Production version: KServe picks kserve-mlserver, its Pod fetches the version and serves its predictions; a promotion rolls it, an archive removes it", async () => {
    const registry = mlflow(s3MlflowUrl());
    await registry.transitionStage(model, "1", "Production");
    const service = syncFixture(namespace, model).service({
      M2S_MLFLOW_HOST: s3MlflowUrl(),
      M2S_INCLUDE_MODELS: model,
      M2S_TARGET: "kserve",
      M2S_SERVICE_ACCOUNT: "model-reader",
      M2S_MODEL_URI_PREFIX: setting("M2S_TESTBED_S3_ARTIFACTS"),
    });
    expect((await service.runCycle()).ok).toBe(true);
    const object = await servingObject("kserve", namespace, model);
    const name = object.metadata.name as string;
    // The URI the registry implies: the version's artifacts, served by MLflow as mlflow-artifacts:/
    // and stored under M2S_MODEL_URI_PREFIX.
    const uriOf = async (version: string) =>
      (await registry.getDownloadUri(model, version)).replace(
        /^mlflow-artifacts:\//,
        `${setting("M2S_TESTBED_S3_ARTIFACTS")}/`,
      );

    // KServe's own choice of runtime, in its status.
    const status = await eventually("KServe to choose a runtime", async () => {
      const isvc = (await customObjects().getNamespacedCustomObject({
        group: "serving.kserve.io",
        version: "v1beta1",
        namespace,
        plural: "inferenceservices",
        name,
      })) as { status?: { clusterServingRuntimeName?: string; deploymentMode?: string } };
      return isvc.status?.clusterServingRuntimeName ? isvc.status : undefined;
    });
    expect(status).toMatchObject({
      clusterServingRuntimeName: "kserve-mlserver",
      deploymentMode: "Standard",
    });

    const selector = `serving.kserve.io/inferenceservice=${name}`;
    const [pod] = await eventually("the predictor's Pod", async () => {
      const pods = await podsOf(namespace, selector);
      return pods.length ? pods : undefined;
    });
    const [initializer] = pod.spec!.initContainers!;
    expect(initializer).toMatchObject({
      name: "storage-initializer",
      image: "kserve/storage-initializer:v0.20.0",
    });
    expect(initializer.args).toEqual([await uriOf("1"), "/mnt/models"]);
    expect(initializer.env).toEqual(
      expect.arrayContaining([
        {
          name: "AWS_ACCESS_KEY_ID",
          valueFrom: { secretKeyRef: { name: "models-s3", key: "AWS_ACCESS_KEY_ID" } },
        },
        { name: "S3_ENDPOINT", value: objectStoreEndpoint().host },
      ]),
    );
    expect(pod.spec!.serviceAccountName).toBe("model-reader");
    expect(imageRepository(pod.spec!.containers[0].image!)).toBe("seldonio/mlserver");

    const served = await predictionsOfPod(pod, name, 8080, 9000);
    expect(served).toMatchObject({ rest: expected["1"], grpc: expected["1"] });
    console.log(`KServe's Pod ${pod.metadata!.name}:\n  ${served.report.join("\n  ")}`);

    // Promotion: the Deployment rolls to a ReplicaSet whose Pod fetches version 2.
    await registry.transitionStage(model, "2", "Production", true);
    expect((await service.runCycle()).ok).toBe(true);
    const promoted = await eventually("a Pod fetching version 2", async () => {
      const uri = await uriOf("2");
      return (await podsOf(namespace, selector)).find((p) => p.spec!.initContainers?.[0].args?.[0] === uri);
    });
    expect(promoted.metadata!.ownerReferences![0].name).not.toBe(pod.metadata!.ownerReferences![0].name);
    expect(await predictionsOfPod(promoted, name, 8080, 9000)).toMatchObject({
      rest: expected["2"],
      grpc: expected["2"],
    });

    // Archive: our object goes; garbage collection removes KServe's Deployment and Service.
    await registry.transitionStage(model, "2", "Archived");
    expect((await service.runCycle()).ok).toBe(true);
    await eventually(
      "KServe's Deployment and Service to be collected",
      async () =>
        (await apps().listNamespacedDeployment({ namespace })).items.length === 0 &&
        (await core().listNamespacedService({ namespace })).items.length === 0,
      60_000,
    );
  }, 600_000);
});

describe("on Seldon Core's operator", () => {
  test.todo("mlflow-server mode, protocol v2");
});
