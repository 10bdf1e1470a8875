// Test access to the testbed's Kubernetes API (the same KUBECONFIG the product uses).
import { CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { randomBytes } from "node:crypto";

export function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}

export const core = () => kubeConfig().makeApiClient(CoreV1Api);
export const customObjects = () => kubeConfig().makeApiClient(CustomObjectsApi);

/** A fresh namespace per test file: namespaces never finish terminating here (no controller-manager). */
export async function freshNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString("hex")}`;
  await core().createNamespace({ body: { metadata: { name, labels: { "mlflow2seldon.io/test": "true" } } } });
  return name;
}

export const seldon = { group: "machinelearning.seldon.io", version: "v1", plural: "seldondeployments" };

export async function listSeldonDeployments(namespace: string): Promise<any[]> {
  const list = (await customObjects().listNamespacedCustomObject({ ...seldon, namespace })) as {
    items: any[];
  };
  return list.items;
}
