// Installs the serving controllers' own configuration on the testbed's API server, from their
// vendored sources (../shared/vendor/{kserve,seldon-core-operator}/config), the way their
// release manifests would: kustomize's image mappings applied, names and namespaces as released,
// webhooks pointed at the managers on loopback (clientConfig.url) with the testbed's CA.
//   node testbed/controllers.mjs config    CRDs, namespaces and ConfigMaps (before the managers start)
//   node testbed/controllers.mjs webhooks  webhook configurations and KServe's runtimes (once the managers listen)
//   node testbed/controllers.mjs seldon-env  the operator's environment from its manager.yaml, as KEY=VALUE lines
// Settings come from the environment: M2S_VENDOR_DIR, M2S_APISERVER, M2S_PKI,
// M2S_KSERVE_WEBHOOK_PORT, M2S_SELDON_WEBHOOK_PORT, M2S_KSERVE_VERSION.
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { URL } from "node:url";
import { parseAllDocuments } from "yaml";

const setting = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const vendor = setting("M2S_VENDOR_DIR");
const kserveConfig = join(vendor, "kserve", "config");
const seldonConfig = join(vendor, "seldon-core-operator", "config");
const pki = setting("M2S_PKI");
const tls = {
  ca: readFileSync(join(pki, "ca.crt")),
  cert: readFileSync(join(pki, "admin.crt")),
  key: readFileSync(join(pki, "admin.key")),
};

const documents = (path) =>
  parseAllDocuments(readFileSync(path, "utf8"))
    .map((d) => d.toJS())
    .filter(Boolean);

function parsed(text) {
  try {
    return JSON.parse(text);
  } catch {
    return { message: text };
  }
}

/** One call to the API server; resolves with the status code and parsed body. */
function api(method, path, body, contentType = "application/json") {
  const url = new URL(path, setting("M2S_APISERVER"));
  return new Promise((resolve, reject) => {
    const req = request(url, { method, ...tls, headers: { "content-type": contentType } }, (res) => {
      let text = "";
      res.on("data", (chunk) => (text += chunk));
      // Not every answer is JSON (a path not yet served is a plain-text 404).
      res.on("end", () => resolve({ status: res.statusCode, body: parsed(text) }));
    });
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

// Where each kind this script writes lives in the API.
const RESOURCES = {
  CustomResourceDefinition: "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
  Namespace: "/api/v1/namespaces",
  ConfigMap: "/api/v1/namespaces/{ns}/configmaps",
  MutatingWebhookConfiguration: "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
  ValidatingWebhookConfiguration: "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
  ClusterServingRuntime: "/apis/serving.kserve.io/v1alpha1/clusterservingruntimes",
  ClusterStorageContainer: "/apis/serving.kserve.io/v1alpha1/clusterstoragecontainers",
};

/** Server-side apply: running the testbed again changes nothing. */
async function apply(object) {
  const collection = RESOURCES[object.kind].replace("{ns}", object.metadata.namespace);
  delete object.metadata.creationTimestamp;
  const path = `${collection}/${object.metadata.name}?fieldManager=mlflow2seldon-testbed&force=true`;
  const { status, body } = await api("PATCH", path, object, "application/apply-patch+yaml");
  if (status >= 300) {
    throw new Error(
      `applying ${object.kind} ${object.metadata.name} failed (HTTP ${status}): ${body.message}`,
    );
  }
}

async function servedWithin(path, seconds) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    if ((await api("GET", path)).status === 200) return;
    if (Date.now() > deadline) throw new Error(`${path} not served after ${seconds}s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** kustomize's `images:` mapping of a kustomization file, applied to every `image:` field. */
function imageMapping(kustomization) {
  const images = documents(kustomization)[0].images ?? [];
  return (image) => {
    const rule = images.find((i) => image === i.name || image.startsWith(`${i.name}:`));
    return rule ? `${rule.newName ?? rule.name}:${rule.newTag}` : image;
  };
}
function mapImages(node, map) {
  if (Array.isArray(node)) node.forEach((n) => mapImages(n, map));
  else if (node && typeof node === "object") {
    for (const [key, value] of Object.entries(node)) {
      if (key === "image" && typeof value === "string") node[key] = map(value);
      else mapImages(value, map);
    }
  }
  return node;
}

// KServe's release manifests pin its own images (`kserve/…:latest` in the source tree) to the release.
const pinKserveImages = (text) =>
  text.replace(/"(kserve\/[a-z-]+):latest"/g, `"$1:${setting("M2S_KSERVE_VERSION")}"`);

async function kserveConfigResources() {
  const crds = join(kserveConfig, "crd", "full");
  for (const file of [
    "serving.kserve.io_inferenceservices.yaml",
    "serving.kserve.io_trainedmodels.yaml",
    "serving.kserve.io_clusterservingruntimes.yaml",
    "serving.kserve.io_servingruntimes.yaml",
    "serving.kserve.io_inferencegraphs.yaml",
    join("clusterstoragecontainer", "serving.kserve.io_clusterstoragecontainers.yaml"),
  ]) {
    for (const crd of documents(join(crds, file))) await apply(crd);
  }
  await apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: "kserve" } });
  // The shipped default deployment mode is Knative (Serverless); the testbed has no Knative:
  // KServe's Standard mode (plain Deployments).
  const [configMap] = documents(join(kserveConfig, "configmap", "inferenceservice.yaml"));
  for (const [key, value] of Object.entries(configMap.data)) configMap.data[key] = pinKserveImages(value);
  configMap.data.deploy = JSON.stringify({ defaultDeploymentMode: "Standard" });
  await apply(configMap);
  for (const plural of ["inferenceservices", "clusterstoragecontainers", "clusterservingruntimes"]) {
    const version = plural === "inferenceservices" ? "v1beta1" : "v1alpha1";
    await servedWithin(`/apis/serving.kserve.io/${version}/${plural}`, 60);
  }
  const storage = join(kserveConfig, "storagecontainers");
  const storageImages = imageMapping(join(storage, "kustomization.yaml"));
  for (const container of documents(join(storage, "default.yaml"))) {
    await apply(
      mapImages(container, (image) =>
        storageImages(image).replace(/:latest$/, `:${setting("M2S_KSERVE_VERSION")}`),
      ),
    );
  }
}

async function seldonConfigResources() {
  await apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: "seldon-system" } });
  // config/default: namePrefix "seldon-", namespace seldon-system.
  const [configMap] = documents(join(seldonConfig, "manager", "configmap.yaml"));
  configMap.metadata = {
    ...configMap.metadata,
    name: `seldon-${configMap.metadata.name}`,
    namespace: "seldon-system",
  };
  await apply(configMap);
}

const caBundle = () => readFileSync(join(pki, "ca.crt")).toString("base64");

/** The vendored webhook configurations, served by the manager on loopback instead of a Service. */
function onLoopback(configuration, port) {
  for (const webhook of configuration.webhooks) {
    const { path } = webhook.clientConfig.service;
    webhook.clientConfig = { url: `https://127.0.0.1:${port}${path}`, caBundle: caBundle() };
    webhook.admissionReviewVersions = ["v1", "v1beta1"];
  }
  return configuration;
}

/** The webhook configurations of both managers, served on loopback. */
function webhookConfigurations() {
  const kserve = documents(join(kserveConfig, "webhook", "manifests.yaml")).map((configuration) =>
    onLoopback(configuration, setting("M2S_KSERVE_WEBHOOK_PORT")),
  );
  // config/default: namePrefix "seldon-"; config/webhook/patch_webhook.yaml: SeldonDeployments of
  // another operator instance (labelled with a controller id) are not this one's.
  const notOtherController = {
    matchExpressions: [{ key: "seldon.io/controller-id", operator: "DoesNotExist" }],
  };
  const seldon = documents(join(seldonConfig, "webhook", "manifests.yaml")).map((configuration) => {
    configuration.metadata.name = `seldon-${configuration.metadata.name}`;
    for (const webhook of configuration.webhooks) {
      webhook.objectSelector = notOtherController;
      webhook.namespaceSelector = notOtherController;
    }
    return onLoopback(configuration, setting("M2S_SELDON_WEBHOOK_PORT"));
  });
  return [...kserve, ...seldon];
}

async function webhooks() {
  for (const configuration of webhookConfigurations()) await apply(configuration);
  // ClusterServingRuntimes go through KServe's validating webhook, so they come last.
  const runtimes = join(kserveConfig, "runtimes");
  const runtimeImages = imageMapping(join(runtimes, "kustomization.yaml"));
  for (const file of documents(join(runtimes, "kustomization.yaml"))[0].resources) {
    for (const runtime of documents(join(runtimes, file))) await apply(mapImages(runtime, runtimeImages));
  }
}

/** The operator's environment as its Deployment sets it, without a service mesh. */
function seldonEnv() {
  const manager = documents(join(seldonConfig, "manager", "manager.yaml")).find(
    (d) => d.kind === "Deployment",
  );
  const env = manager.spec.template.spec.containers.find((c) => c.name === "manager").env;
  const overrides = { POD_NAMESPACE: "seldon-system", AMBASSADOR_ENABLED: "false", ISTIO_ENABLED: "false" };
  const lines = env
    .filter((e) => e.value !== undefined && !(e.name in overrides))
    .map((e) => `${e.name}=${e.value}`);
  for (const [name, value] of Object.entries(overrides)) lines.push(`${name}=${value}`);
  process.stdout.write(`${lines.join("\n")}\n`);
}

const commands = {
  config: async () => {
    await kserveConfigResources();
    await seldonConfigResources();
  },
  webhooks,
  "seldon-env": seldonEnv,
};
const command = commands[process.argv[2]];
if (!command) {
  console.error(`usage: node testbed/controllers.mjs ${Object.keys(commands).join("|")}`);
  process.exit(2);
}
Promise.resolve()
  .then(command)
  .catch((error) => {
    console.error(`[testbed] ${error.message}`);
    process.exit(1);
  });
