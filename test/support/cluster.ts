// Test access to the testbed's Kubernetes API (the same KUBECONFIG the product uses).
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  RbacAuthorizationV1Api,
  type V1PolicyRule,
} from "@kubernetes/client-node";
import { randomBytes } from "node:crypto";
import { TARGETS, type ServingTarget } from "../../engine/serving-targets";

export function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}

export const core = () => kubeConfig().makeApiClient(CoreV1Api);
export const customObjects = () => kubeConfig().makeApiClient(CustomObjectsApi);

/** A fresh namespace per test: test files share the testbed and never see each other's objects. */
export async function freshNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString("hex")}`;
  await core().createNamespace({ body: { metadata: { name, labels: { "mlflow2seldon.io/test": "true" } } } });
  return name;
}

export const seldon = { group: "machinelearning.seldon.io", version: "v1", plural: "seldondeployments" };

export const listSeldonDeployments = (namespace: string) =>
  listServingObjects(TARGETS["seldon-v1"], namespace);

/** A ServiceAccount bound to a Role of its own with `rules`, in `namespace`. */
export async function serviceAccountWithRole(namespace: string, name: string, rules: V1PolicyRule[]) {
  const rbac = kubeConfig().makeApiClient(RbacAuthorizationV1Api);
  await core().createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  await rbac.createNamespacedRole({ namespace, body: { metadata: { name }, rules } });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name, namespace }],
    },
  });
}

/**
 * A token of the ServiceAccount (TokenRequest, as the kubelet mounts it); bound to the Secret
 * `boundSecret` when given, so deleting that Secret revokes it.
 */
export async function serviceAccountToken(namespace: string, name: string, boundSecret?: string) {
  let boundObjectRef;
  if (boundSecret) {
    const secret = await core().createNamespacedSecret({
      namespace,
      body: { metadata: { name: boundSecret } },
    });
    boundObjectRef = { apiVersion: "v1", kind: "Secret", name: boundSecret, uid: secret.metadata!.uid };
  }
  const request = await core().createNamespacedServiceAccountToken({
    namespace,
    name,
    body: { spec: { audiences: [], expirationSeconds: 600, boundObjectRef } },
  });
  return request.status!.token!;
}

/** A SeldonDeployment someone else made (no owner labels), holding `name`. */
export async function createForeignSeldonDeployment(
  namespace: string,
  name: string,
  labels: Record<string, string> = {},
) {
  await customObjects().createNamespacedCustomObject({
    ...seldon,
    namespace,
    body: {
      apiVersion: "machinelearning.seldon.io/v1",
      kind: "SeldonDeployment",
      metadata: { name, labels },
      spec: { predictors: [] },
    },
  });
}

/** Where an InferenceService or a Seldon v2 Model reads its model. */
export const storageUriOf = (object: any): string =>
  object.spec.predictor?.model?.storageUri ?? object.spec.storageUri;

/** The objects of a serving target in `namespace`, whoever owns them. */
export async function listServingObjects(target: ServingTarget, namespace: string): Promise<any[]> {
  const [group, version] = target.apiVersion.split("/");
  const list = (await customObjects().listNamespacedCustomObject({
    group,
    version,
    plural: target.plural,
    namespace,
  })) as { items: any[] };
  return list.items;
}
