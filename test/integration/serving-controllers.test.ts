// The serving systems act on the objects the sync service writes: KServe v0.20's controller
// manager (Standard mode) and Seldon Core's v1.17.1 operator run on the testbed with their
// webhooks. For a Production version their webhooks accept the object, their controllers write
// a Deployment, kube-controller-manager a ReplicaSet and a Pod, KServe's pod mutator injects the
// storage initializer. That Pod, read from the API server, then runs as a kubelet would run it
// (testbed/kubelet.ts): its storage initializer fetches the model from the S3 object store
// with the credentials the Pod names, its model server (MLServer with the MLflow runtime) loads it,
// and V2 requests over REST and gRPC return the predictions `mlflow.pyfunc` gives. A promotion
// rolls the Deployment to the new version; an archive removes our object and, by garbage
// collection, the controller's Deployment and Service.
import { AppsV1Api, type V1Container, type V1Pod } from "@kubernetes/client-node";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TARGETS } from "../../engine/serving-targets";
import { ANNOTATIONS } from "../../engine/vocabulary";
import {
  core,
  customObjects,
  editObject,
  freshNamespace,
  kubeConfig,
  listServingObjects,
} from "../support/cluster";
import { rolloutUnsupported } from "../../engine/settings";
import { imageRepository, runPod } from "../../testbed/kubelet";
import { IMAGES_NOT_RUN, imageStandIns } from "../../testbed/image-stand-ins";
import { objectStoreCredentials } from "../../testbed/object-store-credentials";
import { SERVING_PODS, type ControllerTarget } from "../../testbed/serving-pods";
import { mlflow, mlflowUrl, uniqueModelName } from "../support/mlflow";
import { iris, irisV2Request, testbedSetting, v2Predictions } from "../support/models";
import { kubeWrites, syncFixture } from "../support/sync";
import { statusRows } from "../../service/status";
import { eventually } from "../support/wait";

const setting = testbedSetting;
const s3MlflowUrl = () => setting("M2S_TESTBED_S3_MLFLOW_URI");
const apps = () => kubeConfig().makeApiClient(AppsV1Api);
const work = mkdtempSync(join(tmpdir(), "serving-controllers-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

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
  const running = await runPod(pod, {
    core: core(),
    standIns: imageStandIns(),
    notRun: IMAGES_NOT_RUN,
    logDir: join(work, "logs"),
  });
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

/** What differs between the serving systems in the story below. */
interface ControllerCase {
  target: ControllerTarget;
  serviceEnv: Record<string, string>;
  /** The storage initializer's container, and that it is configured as the user configured it. */
  expectInitializer(pod: V1Pod): V1Container;
  /** The serving system's own view of the object, once it has one. */
  controllerView(namespace: string, name: string): Promise<Record<string, unknown> | undefined>;
  expectedView: Record<string, unknown>;
  /** That view as `status` and the status page show it. */
  servingView: RegExp;
}

const readObject = async (target: "kserve" | "seldon-v1", namespace: string, name: string) =>
  (await customObjects().getNamespacedCustomObject({
    group: TARGETS[target].group,
    version: TARGETS[target].apiVersion.split("/")[1],
    namespace,
    plural: TARGETS[target].plural,
    name,
  })) as { status?: Record<string, unknown> };

const CASES: Record<string, ControllerCase> = {
  "KServe's controller (Standard mode)": {
    target: "kserve",
    serviceEnv: {
      M2S_TARGET: "kserve",
      M2S_SERVICE_ACCOUNT: "model-reader",
      M2S_KSERVE_DEPLOYMENT_MODE: "Standard",
    },
    expectInitializer(pod) {
      expect(pod.spec!.serviceAccountName).toBe("model-reader");
      const [initializer] = pod.spec!.initContainers!;
      expect(initializer).toMatchObject({
        name: "storage-initializer",
        image: "kserve/storage-initializer:v0.20.0",
      });
      expect(initializer.env).toEqual(
        expect.arrayContaining([
          {
            name: "AWS_ACCESS_KEY_ID",
            valueFrom: { secretKeyRef: { name: "models-s3", key: "AWS_ACCESS_KEY_ID" } },
          },
          { name: "S3_ENDPOINT", value: objectStoreEndpoint().host },
        ]),
      );
      return initializer;
    },
    async controllerView(namespace, name) {
      const { status } = await readObject("kserve", namespace, name);
      return status?.clusterServingRuntimeName ? status : undefined;
    },
    // KServe's own choice of runtime.
    expectedView: { clusterServingRuntimeName: "kserve-mlserver", deploymentMode: "Standard" },
    // No kubelet: the predictor's Deployment never becomes available.
    servingView: /^not ready \(\w+Ready: /,
  },
  "Seldon Core's operator (MLFLOW_SERVER, protocol v2)": {
    target: "seldon-v1",
    serviceEnv: {
      M2S_TARGET: "seldon-v1",
      M2S_SERVING_MODE: "mlflow-server",
      M2S_PROTOCOL: "v2",
      M2S_SELDON_CREDENTIALS_SECRET: "models-rclone",
    },
    expectInitializer(pod) {
      const [initializer] = pod.spec!.initContainers!;
      expect(imageRepository(initializer.image!)).toBe("seldonio/rclone-storage-initializer");
      expect(initializer.envFrom).toEqual([{ secretRef: { name: "models-rclone" } }]);
      return initializer;
    },
    async controllerView(namespace, name) {
      const { status } = await readObject("seldon-v1", namespace, name);
      return status?.deploymentStatus ? status : undefined;
    },
    // No kubelet makes the Pods ready: the operator reports them as still being created.
    expectedView: { state: "Creating" },
    servingView: /^Creating/,
  },
};

describe.each(Object.entries(CASES))("on %s", (_, spec) => {
  const model = uniqueModelName(`iris_${spec.target}`);
  let namespace: string;
  let expected: Record<string, number[]>;

  beforeAll(async () => {
    expect(iris(s3MlflowUrl(), "train", model).versions).toEqual(["1", "2"]);
    expected = {
      "1": iris(s3MlflowUrl(), "predict", `models:/${model}/1`).predictions,
      "2": iris(s3MlflowUrl(), "predict", `models:/${model}/2`).predictions,
    };
    namespace = await freshNamespace(`ctl-${spec.target}`);
    // The object store's credentials, as the serving system reads them.
    const { secret, serviceAccount } = objectStoreCredentials(spec.target);
    await core().createNamespacedSecret({ namespace, body: secret });
    if (serviceAccount) await core().createNamespacedServiceAccount({ namespace, body: serviceAccount });
  }, 180_000);

  test("a Production version: the controller accepts and reconciles the object, its Pod fetches the version and serves its predictions; a promotion rolls it, an archive removes it", async () => {
    const registry = mlflow(s3MlflowUrl());
    await registry.transitionStage(model, "1", "Production");
    const service = syncFixture(namespace, model).service({
      M2S_MLFLOW_HOST: s3MlflowUrl(),
      M2S_INCLUDE_MODELS: model,
      M2S_MODEL_URI_PREFIX: setting("M2S_TESTBED_S3_ARTIFACTS"),
      ...spec.serviceEnv,
    });
    expect((await service.runCycle()).ok).toBe(true);
    const object = await servingObject(spec.target, namespace, model);
    const name = object.metadata.name as string;
    // The URI the registry implies: the version's artifacts, served by MLflow as mlflow-artifacts:/
    // and stored under M2S_MODEL_URI_PREFIX.
    const uriOf = async (version: string) =>
      (await registry.getDownloadUri(model, version)).replace(
        /^mlflow-artifacts:\//,
        `${setting("M2S_TESTBED_S3_ARTIFACTS")}/`,
      );

    const view = await eventually("the controller's status of the object", () =>
      spec.controllerView(namespace, name),
    );
    expect(view).toMatchObject(spec.expectedView);
    // Its view reaches the status rows of the next cycle, which writes nothing: what the
    // controller adds (status, annotations, finalizers) is not drift.
    const writes = await kubeWrites(service);
    const next = await service.runCycle();
    expect(next.report!.failures).toEqual([]);
    expect(next.ok).toBe(true);
    expect(statusRows(next.report!, { applied: true })[0].serving).toMatch(spec.servingView);
    expect(await kubeWrites(service)).toBe(writes);

    const [pod] = await eventually("the controller's Pod", async () => {
      const pods = await podsOf(namespace, SERVING_PODS[spec.target].selector(name));
      return pods.length ? pods : undefined;
    });
    expect(spec.expectInitializer(pod).args).toEqual([await uriOf("1"), "/mnt/models"]);
    const { http, grpc } = SERVING_PODS[spec.target];
    const servedName = SERVING_PODS[spec.target].model(name);
    const served = await predictionsOfPod(pod, servedName, http, grpc);
    expect(served).toMatchObject({ rest: expected["1"], grpc: expected["1"] });
    console.log(`Pod ${pod.metadata!.name}:\n  ${served.report.join("\n  ")}`);

    // Promotion: the Deployment rolls to a ReplicaSet whose Pod fetches version 2.
    await registry.transitionStage(model, "2", "Production", true);
    expect((await service.runCycle()).ok).toBe(true);
    const promoted = await eventually("a Pod fetching version 2", async () => {
      const uri = await uriOf("2");
      return (await podsOf(namespace, SERVING_PODS[spec.target].selector(name))).find(
        (p) => p.spec!.initContainers?.[0].args?.[0] === uri,
      );
    });
    expect(promoted.metadata!.ownerReferences![0].name).not.toBe(pod.metadata!.ownerReferences![0].name);
    expect(await predictionsOfPod(promoted, servedName, http, grpc)).toMatchObject({
      rest: expected["2"],
      grpc: expected["2"],
    });

    // Archive: our object goes; garbage collection removes the controller's Deployments and Services.
    await registry.transitionStage(model, "2", "Archived");
    expect((await service.runCycle()).ok).toBe(true);
    await eventually(
      "the controller's Deployments and Services to be collected",
      async () =>
        (await apps().listNamespacedDeployment({ namespace })).items.length === 0 &&
        (await core().listNamespacedService({ namespace })).items.length === 0,
      60_000,
    );
  }, 600_000);
});

// In wrapper-image mode the model image is the user's own, so the Pod is checked, not run: the
// operator keeps the claim mounted read-only at the storage root and MODEL_PATH naming the
// version's MLflow model folder on it.
test("on Seldon Core's operator (wrapper image): the Pod mounts the claim read-only at the storage root and MODEL_PATH names the version's MLflow model", async () => {
  const model = uniqueModelName("iris_wrapper");
  expect(iris(mlflowUrl(), "train", model).versions).toEqual(["1", "2"]);
  await mlflow().transitionStage(model, "1", "Production");
  const namespace = await freshNamespace("ctl-wrapper");
  const storageRoot = setting("M2S_TESTBED_ARTIFACTS_ROOT");
  const service = syncFixture(namespace, model).service({
    M2S_INCLUDE_MODELS: model,
    M2S_MLFLOW_STORAGE_ROOT: storageRoot,
    M2S_MLFLOW_STORAGE_CLAIM: "mlflow-artifacts",
  });
  expect((await service.runCycle()).ok).toBe(true);
  const { name } = (await servingObject("seldon-v1", namespace, model)).metadata;
  const [pod] = await eventually("the operator's Pod", async () => {
    const pods = await podsOf(namespace, `seldon-deployment-id=${name}`);
    return pods.length ? pods : undefined;
  });
  const container = pod.spec!.containers.find((c) => c.name === "model")!;
  expect(container.image).toBe("registry.example.com/mlflow-wrapper:1.0");
  const volume = pod.spec!.volumes!.find((v) => v.persistentVolumeClaim?.claimName === "mlflow-artifacts")!;
  expect(volume.persistentVolumeClaim!.readOnly).toBe(true);
  expect(container.volumeMounts).toContainEqual(
    expect.objectContaining({ name: volume.name, mountPath: storageRoot, readOnly: true }),
  );
  const modelPath = container.env!.find((e) => e.name === "MODEL_PATH")!.value!;
  expect(modelPath.startsWith(`${storageRoot}/`)).toBe(true);
  // The claim, bound to the registry's artifact store, holds the MLflow model there.
  expect(existsSync(join(modelPath, "MLmodel"))).toBe(true);
  expect(container.env).toEqual(
    expect.arrayContaining([
      { name: "MODEL_NAME", value: model },
      { name: "MODEL_VERSION", value: "1" },
    ]),
  );
}, 180_000);

// KServe v0.20's Standard mode and `canaryTrafficPercent`: the controller keeps one predictor
// Deployment and rolls it to the candidate, so no traffic stays on the previous version. That is
// why the kserve target refuses a canary unless its InferenceServices are pinned to Knative mode.
test("on KServe's controller (Standard mode): canaryTrafficPercent splits nothing, the one Deployment rolls to the candidate, so a kserve canary needs Knative mode", async () => {
  const namespace = await freshNamespace("ctl-canary");
  const coordinates = {
    group: TARGETS.kserve.group,
    version: TARGETS.kserve.apiVersion.split("/")[1],
    plural: TARGETS.kserve.plural,
  };
  const uri = (version: string) => `${setting("M2S_TESTBED_S3_ARTIFACTS")}/canary-probe/${version}`;
  await customObjects().createNamespacedCustomObject({
    ...coordinates,
    namespace,
    body: {
      apiVersion: TARGETS.kserve.apiVersion,
      kind: "InferenceService",
      metadata: { name: "canary-probe", annotations: { "serving.kserve.io/deploymentMode": "Standard" } },
      spec: {
        predictor: {
          model: { modelFormat: { name: "mlflow" }, protocolVersion: "v2", storageUri: uri("v1") },
        },
      },
    },
  });
  const podFetching = (version: string) =>
    eventually(`a Pod fetching ${version}`, async () =>
      (await podsOf(namespace, SERVING_PODS.kserve.selector("canary-probe"))).find(
        (p) => p.spec!.initContainers?.[0].args?.[0] === uri(version),
      ),
    );
  await podFetching("v1");

  await editObject(coordinates, namespace, "canary-probe", (isvc) => {
    isvc.spec.predictor.canaryTrafficPercent = 10;
    isvc.spec.predictor.model.storageUri = uri("v2");
  });
  const candidate = await podFetching("v2");
  const deployments = (await apps().listNamespacedDeployment({ namespace })).items;
  expect(deployments.map((d) => d.metadata!.name)).toEqual(["canary-probe-predictor"]);
  // The candidate's Pod belongs to a new ReplicaSet of that one Deployment: a rollout, not a split.
  const replicaSets = (await apps().listNamespacedReplicaSet({ namespace })).items;
  const owner = replicaSets.find((r) => r.metadata!.name === candidate.metadata!.ownerReferences![0].name)!;
  expect(owner.metadata!.ownerReferences![0].name).toBe("canary-probe-predictor");

  expect(rolloutUnsupported("kserve", "canary", "Standard")).toMatch(/Knative mode/);
  expect(rolloutUnsupported("kserve", "canary", "Knative")).toBeUndefined();
}, 180_000);
