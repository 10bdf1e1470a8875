// Reads and writes one target's serving objects through the Kubernetes API with server-side apply under
// the engine's own field manager; every write attempt first asks whether this process may write.
import { ClusterError, WriteNotAllowedError } from "../errors";
import { KubeApiError, KubeClient } from "../kube/client";
import { loadKubeTarget, type KubeTargetOptions } from "../kube/config";
import type { ServingTarget } from "../serving-targets";
import type { ServingObject } from "../vocabulary";

/** Objects per LIST request (client-go's pager reads 500). */
export const LIST_PAGE_SIZE = 500;

interface ListPage {
  items: ServingObject[];
  metadata?: { resourceVersion?: string; continue?: string };
}

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

export interface StoreHooks {
  /** Sees every API request (the service counts them in metrics). */
  onRequest?: (verb: KubeVerb) => void;
  /** Sees each write, so a watch can tell its echo. */
  observer?: WriteObserver;
  /**
   * Asked before every write attempt, retries included: why this process may not write now
   * (a replica that lost its lease, or one stopping), or undefined when it may.
   */
  writeBlocked?: () => string | undefined;
}

export class ServingObjectStore {
  constructor(
    private readonly client: KubeClient,
    readonly target: ServingTarget,
    private readonly fieldManager: string,
    private readonly hooks: StoreHooks = {},
  ) {}

  private collection(namespace: string): string {
    const { apiVersion, plural } = this.target;
    return `/apis/${apiVersion}/namespaces/${encodeURIComponent(namespace)}/${plural}`;
  }

  private objectPath(namespace: string, name: string): string {
    return `${this.collection(namespace)}/${encodeURIComponent(name)}`;
  }

  /**
   * Runs one write of `name` between the observer's `writing` and `written`; `work` is given the
   * check each attempt makes first (a write the process may no longer make is never sent).
   */
  private async write<T extends ServingObject | undefined>(
    namespace: string,
    name: string,
    work: (beforeAttempt: () => void) => Promise<T>,
  ): Promise<T> {
    const beforeAttempt = () => {
      const blocked = this.hooks.writeBlocked?.();
      if (blocked) throw new WriteNotAllowedError(`${this.target.kind} ${namespace}/${name}`, blocked);
    };
    beforeAttempt();
    this.hooks.observer?.writing(name);
    let outcome: ServingObject | undefined | null = null;
    try {
      outcome = await work(beforeAttempt);
      return outcome as T;
    } finally {
      this.hooks.observer?.written(name, outcome);
    }
  }

  private async call<T>(verb: KubeVerb, object: string, work: () => Promise<T>): Promise<T> {
    this.hooks.onRequest?.(verb);
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

  /**
   * The objects and the list's resourceVersion (where a watch of the same objects starts), read in
   * pages as client-go's pager reads them, so a namespace of thousands never arrives as one body.
   * Every page is of the first page's snapshot; a continuation the server no longer has (410, after
   * etcd compacted that revision) lists again from the first page, once. managedFields are left
   * out: the engine never reads them, and they are a large share of each object.
   */
  async listAt(
    namespace: string,
    labelSelector?: string,
  ): Promise<{ items: ServingObject[]; resourceVersion: string }> {
    const what = `${this.target.kind}s in ${namespace}`;
    for (let attempt = 0; ; attempt++) {
      const items: ServingObject[] = [];
      let page: ListPage | undefined;
      try {
        do {
          const query = { labelSelector, limit: String(LIST_PAGE_SIZE), continue: page?.metadata?.continue };
          page = await this.call("list", what, () =>
            this.client.request<ListPage>("GET", this.collection(namespace), { query }),
          );
          for (const item of page.items) {
            delete item.metadata.managedFields;
            items.push(item);
          }
        } while (page.metadata?.continue);
      } catch (error) {
        const expired = error instanceof ClusterError && error.status === 410 && page !== undefined;
        if (expired && attempt === 0) continue;
        throw error;
      }
      return { items, resourceVersion: page.metadata?.resourceVersion ?? "" };
    }
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
    return this.call("watch", `${this.target.kind}s in ${namespace}`, () =>
      this.client.watch(
        this.collection(namespace),
        {
          labelSelector,
          resourceVersion,
          allowWatchBookmarks: "true",
          timeoutSeconds: String(timeoutSeconds),
        },
        ({ type, object }) => onEvent(type, object as ServingObject),
        signal,
      ),
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
    return this.write(namespace, name, (beforeAttempt) =>
      this.call("apply", `${namespace}/${name}`, () =>
        this.client.request<ServingObject>("PATCH", this.objectPath(namespace, name), {
          body: desired,
          // JSON is YAML: the apply patch type takes either.
          contentType: "application/apply-patch+yaml",
          query: { fieldManager: this.fieldManager, force: "true" },
          onWarning,
          beforeAttempt,
        }),
      ),
    );
  }

  /**
   * Deletes one object; a missing object counts as deleted. With `uid`, only that object: one
   * deleted and created again under the name since it was read is left alone (409 Conflict).
   */
  async delete(namespace: string, name: string, uid?: string): Promise<void> {
    await this.write(namespace, name, async (beforeAttempt) => {
      try {
        await this.call("delete", `${namespace}/${name}`, () =>
          this.client.request("DELETE", this.objectPath(namespace, name), {
            ...(uid ? { body: { kind: "DeleteOptions", apiVersion: "v1", preconditions: { uid } } } : {}),
            beforeAttempt,
          }),
        );
      } catch (error) {
        if (!(error instanceof ClusterError && error.status === 404)) throw error;
      }
      return undefined;
    });
  }
}
