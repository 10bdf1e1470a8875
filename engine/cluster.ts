// Reads and writes SeldonDeployments through the Kubernetes API with server-side apply under
// the engine's own field manager. Counts writes so callers can prove a no-op cycle writes nothing.
import { ApiException, KubeConfig, KubernetesObjectApi, PatchStrategy } from "@kubernetes/client-node";
import { ClusterError } from "./errors";
import { API_VERSION, KIND, type SeldonDeployment } from "./manifest";

export function loadKubeConfig(options: { kubeconfig?: string; context?: string } = {}): KubeConfig {
  const kc = new KubeConfig();
  if (options.kubeconfig) kc.loadFromFile(options.kubeconfig);
  else kc.loadFromDefault();
  if (options.context) kc.setCurrentContext(options.context);
  return kc;
}

function apiMessage(error: unknown): { status?: number; message: string } {
  if (error instanceof ApiException) {
    let message = String(error.body);
    try {
      message = (JSON.parse(String(error.body)) as { message?: string }).message ?? message;
    } catch {
      // a non-JSON body is reported as it is
    }
    return { status: error.code, message };
  }
  return { message: error instanceof Error ? error.message : String(error) };
}

export type KubeVerb = "list" | "get" | "apply" | "delete";

export class SeldonDeploymentStore {
  private readonly api: KubernetesObjectApi;
  /** Create, update and delete calls sent. */
  writes = 0;

  /** `onRequest` sees every API request (the service counts them in metrics). */
  constructor(
    kubeConfig: KubeConfig,
    private readonly fieldManager: string,
    private readonly onRequest: (verb: KubeVerb) => void = () => {},
  ) {
    this.api = KubernetesObjectApi.makeApiClient(kubeConfig);
  }

  async list(namespace: string, labelSelector?: string): Promise<SeldonDeployment[]> {
    this.onRequest("list");
    try {
      const list = await this.api.list<SeldonDeployment>(
        API_VERSION,
        KIND,
        namespace,
        undefined,
        undefined,
        undefined,
        undefined,
        labelSelector,
      );
      return list.items;
    } catch (error) {
      const { status, message } = apiMessage(error);
      throw new ClusterError("list", `${KIND}s in ${namespace}`, status, message);
    }
  }

  async get(namespace: string, name: string): Promise<SeldonDeployment | undefined> {
    this.onRequest("get");
    try {
      return await this.api.read<SeldonDeployment>({
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name, namespace },
      });
    } catch (error) {
      const { status, message } = apiMessage(error);
      if (status === 404) return undefined;
      throw new ClusterError("get", `${namespace}/${name}`, status, message);
    }
  }

  /** Server-side apply; `force` takes over fields another manager changed by hand (drift). */
  async apply(desired: SeldonDeployment): Promise<SeldonDeployment> {
    this.writes++;
    this.onRequest("apply");
    try {
      return await this.api.patch<SeldonDeployment>(
        desired,
        undefined,
        undefined,
        this.fieldManager,
        true,
        PatchStrategy.ServerSideApply,
      );
    } catch (error) {
      const { status, message } = apiMessage(error);
      throw new ClusterError(
        "apply",
        `${desired.metadata.namespace}/${desired.metadata.name}`,
        status,
        message,
      );
    }
  }

  /** Deletes one object; a missing object counts as deleted. */
  async delete(namespace: string, name: string): Promise<void> {
    this.writes++;
    this.onRequest("delete");
    try {
      await this.api.delete({ apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace } });
    } catch (error) {
      const { status, message } = apiMessage(error);
      if (status === 404) return;
      throw new ClusterError("delete", `${namespace}/${name}`, status, message);
    }
  }
}
