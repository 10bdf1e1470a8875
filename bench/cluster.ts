// The benchmark's view of the testbed's Kubernetes API: a namespace to work in, emptied between
// repetitions, a watch that timestamps what each SeldonDeployment shows, and hand edits.
import { CoreV1Api, CustomObjectsApi, KubeConfig, Watch } from "@kubernetes/client-node";
import { setTimeout as sleep } from "node:timers/promises";
import { ANNOTATIONS, type ServingObject } from "../engine/vocabulary";

const seldon = { group: "machinelearning.seldon.io", version: "v1", plural: "seldondeployments" };

export class BenchCluster {
  private readonly kubeConfig = new KubeConfig();
  private readonly objects: CustomObjectsApi;

  constructor(readonly namespace: string) {
    this.kubeConfig.loadFromDefault();
    this.objects = this.kubeConfig.makeApiClient(CustomObjectsApi);
  }

  async createNamespace(): Promise<void> {
    await this.kubeConfig.makeApiClient(CoreV1Api).createNamespace({
      body: { metadata: { name: this.namespace, labels: { "mlflow2seldon.io/bench": "true" } } },
    });
  }

  /** Deletes every SeldonDeployment in the namespace and waits until none is listed. */
  async clear(): Promise<void> {
    await this.objects.deleteCollectionNamespacedCustomObject({ ...seldon, namespace: this.namespace });
    while ((await this.count(1)) > 0) await sleep(200);
  }

  async count(limit?: number): Promise<number> {
    const list = (await this.objects.listNamespacedCustomObject({
      ...seldon,
      namespace: this.namespace,
      limit,
    })) as {
      items: unknown[];
    };
    return list.items.length;
  }

  async deleteNamespace(): Promise<void> {
    await this.clear();
    await this.kubeConfig.makeApiClient(CoreV1Api).deleteNamespace({ name: this.namespace });
  }

  /** Some SeldonDeployments of the namespace (the first `limit` listed). */
  async list(limit: number): Promise<ServingObject[]> {
    const list = (await this.objects.listNamespacedCustomObject({
      ...seldon,
      namespace: this.namespace,
      limit,
    })) as {
      items: ServingObject[];
    };
    return list.items;
  }

  /** A hand edit: the first predictor's replicas set to `replicas` (a replace, as `kubectl edit` does). */
  async editReplicas(name: string, replicas: number): Promise<void> {
    const object = (await this.objects.getNamespacedCustomObject({
      ...seldon,
      namespace: this.namespace,
      name,
    })) as ServingObject & { spec: { predictors: { replicas?: number }[] } };
    object.spec.predictors[0].replicas = replicas;
    await this.objects.replaceNamespacedCustomObject({
      ...seldon,
      namespace: this.namespace,
      name,
      body: object,
    });
  }

  /**
   * Calls `onObject(object, at)` whenever a SeldonDeployment is added or changed, with the time
   * the event arrived. Returns a function that ends the watch.
   */
  async watchObjects(onObject: (object: ServingObject, at: number) => void): Promise<() => void> {
    const watch = new Watch(this.kubeConfig);
    let stopped = false;
    let request: AbortController | undefined;
    const start = async (): Promise<void> => {
      // Without a resourceVersion a new watch first sends every object as ADDED: nothing is missed.
      request = await watch.watch(
        `/apis/${seldon.group}/${seldon.version}/namespaces/${this.namespace}/${seldon.plural}`,
        { allowWatchBookmarks: false },
        (type: string, object: ServingObject) => {
          if (type === "ADDED" || type === "MODIFIED") onObject(object, performance.now());
        },
        () => {
          if (!stopped) void start();
        },
      );
    };
    await start();
    return () => {
      stopped = true;
      request?.abort();
    };
  }
}

/** The version an object serves, as its annotation records it. */
export const servedVersion = (object: ServingObject) => object.metadata.annotations?.[ANNOTATIONS.version];
