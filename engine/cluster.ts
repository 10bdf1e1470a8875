// Reads and writes SeldonDeployments through the Kubernetes API with server-side apply under
// the engine's own field manager. Counts writes so callers can prove a no-op cycle writes nothing.
import { ClusterError } from "./errors";
import { KubeApiError, KubeClient } from "./kube/client";
import { loadKubeTarget, type KubeTargetOptions } from "./kube/config";
import { API_VERSION, KIND, type SeldonDeployment } from "./manifest";

export type KubeVerb = "list" | "get" | "apply" | "delete";

/** A client for the cluster of a kubeconfig context (default: client-go's lookup order). */
export function kubeClient(options: KubeTargetOptions = {}): KubeClient {
  return new KubeClient(loadKubeTarget(options));
}

const collection = (namespace: string) =>
  `/apis/${API_VERSION}/namespaces/${encodeURIComponent(namespace)}/seldondeployments`;

export class SeldonDeploymentStore {
  /** Create, update and delete calls sent. */
  writes = 0;

  /** `onRequest` sees every API request (the service counts them in metrics). */
  constructor(
    private readonly client: KubeClient,
    private readonly fieldManager: string,
    private readonly onRequest: (verb: KubeVerb) => void = () => {},
  ) {}

  private async call<T>(verb: KubeVerb, object: string, work: () => Promise<T>): Promise<T> {
    this.onRequest(verb);
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof KubeApiError)) throw error;
      throw new ClusterError(verb, object, error.status, error.message);
    }
  }

  async list(namespace: string, labelSelector?: string): Promise<SeldonDeployment[]> {
    return this.call("list", `${KIND}s in ${namespace}`, async () => {
      const list = await this.client.request<{ items: SeldonDeployment[] }>("GET", collection(namespace), {
        query: { labelSelector },
      });
      return list.items;
    });
  }

  async get(namespace: string, name: string): Promise<SeldonDeployment | undefined> {
    try {
      return await this.call("get", `${namespace}/${name}`, () =>
        this.client.request<SeldonDeployment>("GET", `${collection(namespace)}/${encodeURIComponent(name)}`),
      );
    } catch (error) {
      if (error instanceof ClusterError && error.status === 404) return undefined;
      throw error;
    }
  }

  /** Server-side apply; `force` takes over fields another manager changed by hand (drift). */
  async apply(desired: SeldonDeployment): Promise<SeldonDeployment> {
    this.writes++;
    const { name, namespace } = desired.metadata;
    return this.call("apply", `${namespace}/${name}`, () =>
      this.client.request<SeldonDeployment>("PATCH", `${collection(namespace)}/${encodeURIComponent(name)}`, {
        body: desired,
        // JSON is YAML: the apply patch type takes either.
        contentType: "application/apply-patch+yaml",
        query: { fieldManager: this.fieldManager, force: "true" },
      }),
    );
  }

  /** Deletes one object; a missing object counts as deleted. */
  async delete(namespace: string, name: string): Promise<void> {
    this.writes++;
    try {
      await this.call("delete", `${namespace}/${name}`, () =>
        this.client.request("DELETE", `${collection(namespace)}/${encodeURIComponent(name)}`),
      );
    } catch (error) {
      if (error instanceof ClusterError && error.status === 404) return;
      throw error;
    }
  }
}
