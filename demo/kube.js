// Small Kubernetes reads for the demo, through the same client the engine uses.
//   node demo/kube.js yaml NAMESPACE SELECTOR            SeldonDeployments as `kubectl get -o yaml` shows them
//   node demo/kube.js wait NAMESPACE SELECTOR VERSION    waits until one serves VERSION (60 s)
//   node demo/kube.js model-path NAMESPACE SELECTOR      the MODEL_PATH the model container is given
const k8s = require("@kubernetes/client-node");
const YAML = require("yaml");

const [command, namespace, labelSelector, version] = process.argv.slice(2);
const kc = new k8s.KubeConfig();
kc.loadFromDefault();
const api = kc.makeApiClient(k8s.CustomObjectsApi);
const list = async () =>
  (
    await api.listNamespacedCustomObject({
      group: "machinelearning.seldon.io",
      version: "v1",
      namespace,
      plural: "seldondeployments",
      labelSelector,
    })
  ).items;

async function main() {
  if (command === "yaml") {
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
    throw new Error(`no SeldonDeployment serving version ${version} in ${namespace} (${labelSelector})`);
  } else if (command === "model-path") {
    const [item] = await list();
    const env = item?.spec.predictors[0].componentSpecs?.[0]?.spec.containers[0].env ?? [];
    process.stdout.write(`${env.find((e) => e.name === "MODEL_PATH")?.value ?? ""}\n`);
  } else {
    throw new Error("usage: kube.js yaml|wait|model-path NAMESPACE SELECTOR [VERSION]");
  }
}
main().catch((error) => {
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
});
