// Small Kubernetes reads for the demo, through the same client the engine uses, for the target
// in $TARGET (default seldon-v1; the engine's target table, from the build).
//   node demo/kube.js kind                                 the kind of object the target writes
//   node demo/kube.js yaml NAMESPACE SELECTOR              the objects as `kubectl get -o yaml` shows them
//   node demo/kube.js wait NAMESPACE SELECTOR VERSION      waits until one serves VERSION (60 s)
//   node demo/kube.js name NAMESPACE SELECTOR              the name of the (first) object
//   node demo/kube.js storage-uri NAMESPACE SELECTOR       where the object's model server fetches the model
//   node demo/kube.js credentials NAMESPACE                the namespace, with the object store's credentials
//                                                          as the target's serving system reads them
const k8s = require("@kubernetes/client-node");
const YAML = require("yaml");
const { TARGETS } = require("../dist/engine/serving-targets");
const { objectStoreCredentials } = require("../dist/testbed/object-store-credentials");

const target = TARGETS[process.env.TARGET || "seldon-v1"];
const [command, namespace, labelSelector, version] = process.argv.slice(2);
const kc = new k8s.KubeConfig();
kc.loadFromDefault();
const api = kc.makeApiClient(k8s.CustomObjectsApi);
const core = kc.makeApiClient(k8s.CoreV1Api);
const [group, apiVersion] = target.apiVersion.split("/");
const list = async () =>
  (
    await api.listNamespacedCustomObject({
      group,
      version: apiVersion,
      namespace,
      plural: target.plural,
      labelSelector,
    })
  ).items;

/** Creates `body` in `namespace` unless it exists (from an earlier run). */
async function ensure(create, namespace, body) {
  try {
    await create({ namespace, body });
  } catch (error) {
    if (error.code !== 409) throw error;
  }
}

/**
 * What a cluster's admin prepares before models are served: the namespace, and the object store's
 * credentials where the serving system looks for them (testbed/object-store-credentials.ts).
 */
async function credentials(namespace) {
  // A namespace still being deleted by an earlier run's `pulumi destroy` is waited for.
  for (let i = 0; i < 240; i++) {
    const existing = await core.readNamespace({ name: namespace }).catch((error) => {
      if (error.code === 404) return undefined;
      throw error;
    });
    if (!existing?.metadata.deletionTimestamp) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  await ensure((r) => core.createNamespace({ body: r.body }), undefined, { metadata: { name: namespace } });
  const { secret, serviceAccount } = objectStoreCredentials(process.env.TARGET || "seldon-v1");
  await ensure((r) => core.createNamespacedSecret(r), namespace, secret);
  if (serviceAccount) await ensure((r) => core.createNamespacedServiceAccount(r), namespace, serviceAccount);
}

async function main() {
  if (command === "kind") {
    process.stdout.write(`${target.kind}\n`);
  } else if (command === "yaml") {
    for (const item of await list()) {
      delete item.metadata.managedFields;
      process.stdout.write(`---\n${YAML.stringify(item)}`);
    }
  } else if (command === "wait") {
    for (let i = 0; i < 120; i++) {
      const items = await list();
      if (items.some((o) => o.metadata.labels["mlflow2seldon.io/version"] === version)) return;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`no ${target.kind} serving version ${version} in ${namespace} (${labelSelector})`);
  } else if (command === "name") {
    const [item] = await list();
    process.stdout.write(`${item?.metadata.name ?? ""}\n`);
  } else if (command === "storage-uri") {
    const [item] = await list();
    const uri =
      item?.spec.predictor?.model?.storageUri ??
      item?.spec.storageUri ??
      item?.spec.predictors?.[0].graph.modelUri;
    process.stdout.write(`${uri ?? ""}\n`);
  } else if (command === "credentials") {
    await credentials(namespace);
  } else {
    throw new Error(
      "usage: kube.js kind|yaml|wait|name|storage-uri|credentials NAMESPACE [SELECTOR [VERSION]]",
    );
  }
}
main().catch((error) => {
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
});
