// Test access to the testbed's Kubernetes API (the same KUBECONFIG the product uses).
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  RbacAuthorizationV1Api,
  type V1PolicyRule,
} from "@kubernetes/client-node";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { TARGETS, type ServingTarget } from "../../engine/serving-targets";

export function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}

/** The testbed's API server and admin credentials, for a proxy to reach it as a client would. */
export function adminUpstream() {
  const config = parse(readFileSync(process.env.KUBECONFIG!, "utf8"));
  const b64 = (text: string) => Buffer.from(text, "base64");
  return {
    url: config.clusters[0].cluster.server as string,
    tls: {
      ca: b64(config.clusters[0].cluster["certificate-authority-data"]),
      cert: b64(config.users[0].user["client-certificate-data"]),
      key: b64(config.users[0].user["client-key-data"]),
    },
  };
}

/** Where this test file's kubeconfig files are written (they hold credentials): removed after the file. */
let kubeconfigDir: string | undefined;
let kubeconfigs = 0;
const kubeconfigFile = (stem: string) =>
  join((kubeconfigDir ??= mkdtempSync(join(tmpdir(), "m2s-kubeconfigs-"))), `${stem}-${kubeconfigs++}`);

export function removeKubeconfigFiles(): void {
  if (kubeconfigDir) rmSync(kubeconfigDir, { recursive: true, force: true });
  kubeconfigDir = undefined;
}

/** A kubeconfig file naming only `url` (a proxy holding the credentials). */
export function kubeconfigVia(url: string): string {
  const file = kubeconfigFile("via");
  writeFileSync(
    file,
    stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "proxy", cluster: { server: url } }],
      users: [{ name: "none", user: {} }],
      contexts: [{ name: "proxy", context: { cluster: "proxy", user: "none" } }],
      "current-context": "proxy",
    }),
  );
  return file;
}

/** A kubeconfig file for the testbed's API server that authenticates with `token` only. */
export function kubeconfigWithToken(token: string): string {
  const config = parse(readFileSync(process.env.KUBECONFIG!, "utf8"));
  config.users = [{ name: config.users[0].name, user: { token } }];
  const file = kubeconfigFile("token");
  writeFileSync(file, stringify(config), { mode: 0o600 });
  return file;
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

/** A SeldonDeployment someone else made (no owner labels), holding `name`, as Seldon's webhook accepts it. */
export async function createForeignSeldonDeployment(
  namespace: string,
  name: string,
  labels: Record<string, string> = {},
) {
  return customObjects().createNamespacedCustomObject({
    ...seldon,
    namespace,
    body: {
      apiVersion: "machinelearning.seldon.io/v1",
      kind: "SeldonDeployment",
      metadata: { name, labels },
      spec: {
        predictors: [
          {
            name: "default",
            replicas: 1,
            graph: { name: "m", implementation: "SKLEARN_SERVER", modelUri: "gs://x/y", children: [] },
          },
        ],
      },
    },
  });
}

/** Where a custom resource lives in the API. */
export interface ResourceCoordinates {
  group: string;
  version: string;
  plural: string;
}

/**
 * A hand edit as `kubectl edit` makes it: the object read afresh, changed by `edit`, written back
 * (its status subresource with `status: true`); read and written again on 409 (a serving
 * controller wrote in between).
 */
export async function editObject(
  coordinates: ResourceCoordinates,
  namespace: string,
  name: string,
  edit: (object: any) => void,
  { status = false } = {},
) {
  const api = customObjects();
  for (let attempt = 1; ; attempt++) {
    const object = await api.getNamespacedCustomObject({ ...coordinates, namespace, name });
    edit(object);
    const request = { ...coordinates, namespace, name, body: object };
    try {
      return await (status
        ? api.replaceNamespacedCustomObjectStatus(request)
        : api.replaceNamespacedCustomObject(request));
    } catch (error) {
      if ((error as { code?: number }).code !== 409 || attempt === 5) throw error;
    }
  }
}

/**
 * What an object's writers set: spec, labels, annotations and the generation. A serving
 * controller's status writes and finalizers leave it as it is, so an equal view before and after
 * means nobody else wrote the object.
 */
export const writtenContent = (object: any) => ({
  generation: object?.metadata.generation,
  labels: object?.metadata.labels,
  annotations: object?.metadata.annotations,
  spec: object?.spec,
});

/** The Events this project recorded about an object (a serving controller records its own). */
export async function eventsRecordedFor(
  namespace: string,
  object: { kind?: string; name: string; uid?: string },
) {
  const selectors = [
    "source=mlflow2seldon",
    `involvedObject.name=${object.name}`,
    ...(object.kind ? [`involvedObject.kind=${object.kind}`] : []),
    ...(object.uid ? [`involvedObject.uid=${object.uid}`] : []),
  ];
  return (await core().listNamespacedEvent({ namespace, fieldSelector: selectors.join(",") })).items;
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
