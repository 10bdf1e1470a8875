// Small Kubernetes reads for the demo, through the same client the engine uses, for the target
// in $TARGET (default seldon-v1; the engine's target table, from the build).
//   node demo/kube.js kind                                 the kind of object the target writes
//   node demo/kube.js yaml NAMESPACE SELECTOR              the objects as `kubectl get -o yaml` shows them
//   node demo/kube.js wait NAMESPACE SELECTOR VERSION      waits until one serves VERSION (60 s)
//   node demo/kube.js model-path NAMESPACE SELECTOR        the MODEL_PATH a SeldonDeployment's container is given
//   node demo/kube.js storage-uri NAMESPACE SELECTOR       the storageUri of an InferenceService or Model
const k8s = require("@kubernetes/client-node");
const YAML = require("yaml");
const { TARGETS } = require("../dist/engine/serving-targets");

const target = TARGETS[process.env.TARGET || "seldon-v1"];
const [command, namespace, labelSelector, version] = process.argv.slice(2);
const kc = new k8s.KubeConfig();
kc.loadFromDefault();
const api = kc.makeApiClient(k8s.CustomObjectsApi);
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
  } else if (command === "model-path") {
    const [item] = await list();
    const env = item?.spec.predictors[0].componentSpecs?.[0]?.spec.containers[0].env ?? [];
    process.stdout.write(`${env.find((e) => e.name === "MODEL_PATH")?.value ?? ""}\n`);
  } else if (command === "storage-uri") {
    const [item] = await list();
    process.stdout.write(`${item?.spec.predictor?.model?.storageUri ?? item?.spec.storageUri ?? ""}\n`);
  } else {
    throw new Error("usage: kube.js kind|yaml|wait|model-path|storage-uri NAMESPACE SELECTOR [VERSION]");
  }
}
main().catch((error) => {
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
});
