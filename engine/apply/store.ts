// Reads and writes one target's serving objects through the Kubernetes API with server-side apply under
// the engine's own field manager. Counts writes so callers can prove a no-op cycle writes nothing.
import { ClusterError } from "../errors";
import { KubeApiError, KubeClient } from "../kube/client";
import { loadKubeTarget, type KubeTargetOptions } from "../kube/config";
import type { ServingTarget } from "../serving-targets";
import type { ServingObject } from "../vocabulary";

export type KubeVerb = "list" | "get" | "apply" | "delete" | "watch";

/** A client for the cluster of a kubeconfig context (default: client-go's lookup order). */
export function kubeClient(options: KubeTargetOptions = {}): KubeClient {
  return new KubeClient(loadKubeTarget(options));
}

/** Sees each write of the store: a watch tells the echo of these writes from someone else's edit. */
export interface WriteObserver {
  /** A write of this object is about to be sent. */
  writing(name: string): void;
  /** The write finished: the object as it left it (undefined: deleted), or null: it failed. */
  written(name: string, object: ServingObject | undefined | null): void;
}

export class ServingObjectStore {
  /** Create, update and delete calls sent. */
  writes = 0;

  /**
   * `onRequest` sees every API request (the service counts them in metrics); `observer` each
   * write, so a watch can tell its echo.
   */
  constructor(
    private readonly client: KubeClient,
    readonly target: ServingTarget,
    private readonly fieldManager: string,
    private readonly onRequest: (verb: KubeVerb) => void = () => {},
    private readonly observer?: WriteObserver,
  ) {}

  private collection(namespace: string): string {
    const { apiVersion, plural } = this.target;
    return `/apis/${apiVersion}/namespaces/${encodeURIComponent(namespace)}/${plural}`;
  }

  private objectPath(namespace: string, name: string): string {
    return `${this.collection(namespace)}/${encodeURIComponent(name)}`;
  }

  /** Runs one write of `name` between the observer's `writing` and `written`. */
  private async write<T extends ServingObject | undefined>(name: string, work: () => Promise<T>): Promise<T> {
    this.writes++;
    this.observer?.writing(name);
    let outcome: ServingObject | undefined | null = null;
    try {
      outcome = await work();
      return outcome as T;
    } finally {
      this.observer?.written(name, outcome);
    }
  }

  private async call<T>(verb: KubeVerb, object: string, work: () => Promise<T>): Promise<T> {
    this.onRequest(verb);
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof KubeApiError)) throw error;
      throw new ClusterError(verb, object, error.status, error.message);
    }
  }

  async list(namespace: string, labelSelector?: string): Promise<ServingObject[]> {
    return (await this.listAt(namespace, labelSelector)).items;
  }

  /** The objects and the list's resourceVersion (where a watch of the same objects starts). */
  async listAt(
    namespace: string,
    labelSelector?: string,
  ): Promise<{ items: ServingObject[]; resourceVersion: string }> {
    return this.call("list", `${this.target.kind}s in ${namespace}`, async () => {
      const list = await this.client.request<{
        items: ServingObject[];
        metadata?: { resourceVersion?: string };
      }>("GET", this.collection(namespace), { query: { labelSelector } });
      return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? "" };
    });
  }

  /**
   * Watches the objects from `resourceVersion` (with bookmarks) until the server ends the watch
   * (after `timeoutSeconds`), `signal` aborts, or it fails; a 410 means the version is too old.
   */
  watch(
    namespace: string,
    labelSelector: string,
    resourceVersion: string,
    onEvent: (type: string, object: ServingObject) => void,
    signal: AbortSignal,
    timeoutSeconds = 60,
  ): Promise<void> {
    this.onRequest("watch");
    return this.client.watch(
      this.collection(namespace),
      { labelSelector, resourceVersion, allowWatchBookmarks: "true", timeoutSeconds: String(timeoutSeconds) },
      ({ type, object }) => onEvent(type, object as ServingObject),
      signal,
    );
  }

  async get(namespace: string, name: string): Promise<ServingObject | undefined> {
    try {
      return await this.call("get", `${namespace}/${name}`, () =>
        this.client.request<ServingObject>("GET", this.objectPath(namespace, name)),
      );
    } catch (error) {
      if (error instanceof ClusterError && error.status === 404) return undefined;
      throw error;
    }
  }

  /** Server-side apply; `force` takes over fields another manager changed by hand (drift). */
  async apply(desired: ServingObject, onWarning?: (message: string) => void): Promise<ServingObject> {
    const { name, namespace } = desired.metadata;
    return this.write(name, () =>
      this.call("apply", `${namespace}/${name}`, () =>
        this.client.request<ServingObject>("PATCH", this.objectPath(namespace, name), {
          body: desired,
          // JSON is YAML: the apply patch type takes either.
          contentType: "application/apply-patch+yaml",
          query: { fieldManager: this.fieldManager, force: "true" },
          onWarning,
        }),
      ),
    );
  }

  /** Deletes one object; a missing object counts as deleted. */
  async delete(namespace: string, name: string): Promise<void> {
    await this.write(name, async () => {
      try {
        await this.call("delete", `${namespace}/${name}`, () =>
          this.client.request("DELETE", this.objectPath(namespace, name)),
        );
      } catch (error) {
        if (!(error instanceof ClusterError && error.status === 404)) throw error;
      }
      return undefined;
    });
  }
}
