// The Pulumi program: deploys the sync service (namespaces, RBAC, Deployment) and snapshots the
// MLflow registry into ModelDeploymentGroups, one input per serving slot, so `pulumi preview`
// names the planned model deployments and `pulumi destroy` removes everything.
import { TARGETS } from "./engine/serving-targets";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ModelDeployments } from "./components/model-deployments";
import { MlflowWebhook } from "./provider/mlflow-webhook";
import { noWaitAnnotations } from "./components/no-wait";
import { SyncService } from "./components/sync-service";
import { loadStackConfig, stackEngineSettings, stackSecrets, type StackConfig } from "./deploy/stack-config";
import { ServingObjectStore, kubeClient } from "./engine/apply/store";
import { ConfigError, errorMessage } from "./engine/errors";
import { fieldManager } from "./engine/inventory";
import { KubeApiError, type KubeClient } from "./engine/kube/client";
import { listOwned } from "./engine/apply/reconcile";
import { servesReady, servingView } from "./engine/apply/serving-view";
import type { EngineSettings } from "./engine/settings";
import { planModelDeployments } from "./engine/snapshot";
import { engineSettingsEnv } from "./service/env";
import { STACK_LABEL, type ServingObject } from "./engine/vocabulary";

/** The deployed sync service's M2S_* environment: the same settings, the models the stack leaves it. */
function serviceEnvironment(
  config: StackConfig,
  settings: EngineSettings,
  stack: string,
): Record<string, string> {
  const service = {
    ...settings,
    // One owner per stack: two stacks' services sharing a deployment namespace leave each other alone.
    owner: `service-${stack}`.slice(0, 63).replace(/[-_.]+$/, ""),
    includeModels: ["*"],
    excludeModels: config.snapshotModels ? config.stackModels : [],
  };
  return {
    ...engineSettingsEnv(service),
    M2S_MLFLOW_HOST: config.mlflowUrl,
    ...(config.mlflowUsername ? { M2S_MLFLOW_USERNAME: config.mlflowUsername } : {}),
    M2S_SYNC_INTERVAL_SECONDS: String(config.syncIntervalSeconds),
    ...(config.deltaPollSeconds === undefined
      ? {}
      : { M2S_DELTA_POLL_SECONDS: String(config.deltaPollSeconds) }),
  };
}

/** True when the namespace exists and this stack did not create it (then it is used, not managed). */
async function foreignNamespace(cluster: KubeClient, name: string, stack: string): Promise<boolean> {
  const existing = await cluster
    .request<{ metadata?: { labels?: Record<string, string> } }>("GET", `/api/v1/namespaces/${name}`)
    .catch((error: unknown) => {
      if (error instanceof KubeApiError && error.status === 404) return undefined;
      throw error;
    });
  return existing !== undefined && existing.metadata?.labels?.[STACK_LABEL] !== stack;
}

/**
 * The stack's objects in the cluster (one LIST by its owner label): they record where the versions
 * they serve are, so a run where nothing changed asks MLflow only for the registry's pages. Best
 * effort: without them every location is read from MLflow.
 */
async function stackObjects(cluster: KubeClient, settings: EngineSettings): Promise<ServingObject[]> {
  const store = new ServingObjectStore(cluster, TARGETS[settings.target], fieldManager(settings.owner));
  return listOwned(store, settings).catch((error: unknown) => {
    pulumi.log.warn(
      `the stack's serving objects could not be listed (${errorMessage(error)}); every location is read from MLflow`,
    );
    return [];
  });
}

/** Objects not serving shown one per line; more are counted only (a large stack stays readable). */
const NOT_READY_SHOWN = 20;

/**
 * The serving system's own view of the stack's objects as this run found them (KServe's
 * conditions, Seldon's state), in the run's diagnostics: those not serving, and a count of all.
 * Reported, never acted on.
 */
function reportServingViews(objects: ServingObject[]) {
  const viewed = objects.flatMap((object) => {
    const view = servingView(object);
    return view ? [{ object, view }] : [];
  });
  if (viewed.length === 0) return;
  const notReady = viewed.filter(({ view }) => !servesReady(view));
  for (const { object, view } of notReady.slice(0, NOT_READY_SHOWN))
    pulumi.log.info(`${object.kind} ${object.metadata.name}: ${view}`);
  const more = notReady.length > NOT_READY_SHOWN ? ` (the first ${NOT_READY_SHOWN} shown above)` : "";
  pulumi.log.info(
    `${viewed.length} of the stack's serving objects have a status from their controller: ${viewed.length - notReady.length} serving, ${notReady.length} not${more}`,
  );
}

export = async () => {
  const config = loadStackConfig();
  const stack = pulumi.getStack();
  const owner = `stack-${stack}`.slice(0, 63);
  const settings = stackEngineSettings(config, owner);
  const secrets = stackSecrets();
  // One client for the program's own reads (one exec-plugin run where the kubeconfig has one).
  const cluster = kubeClient({ context: config.kubeContext, kubeconfigContent: secrets.plain.kubeconfig });
  const provider = new k8s.Provider("cluster", {
    context: config.kubeContext,
    // Without content, "" lets the plugin resolve $KUBECONFIG itself: given a path (the SDK's
    // default), it would copy the file into $TMPDIR and leave the copy there.
    kubeconfig: secrets.kubeconfig ?? "",
  });
  const annotations = noWaitAnnotations(config.skipAwait);

  let deploymentNamespace: pulumi.Output<string> = pulumi.output(config.deploymentNamespace);
  const dependsOn: pulumi.Resource[] = [];
  // Namespaces this stack creates carry its label, so the next run knows they are its own.
  const labels = { [STACK_LABEL]: stack };
  if (!(await foreignNamespace(cluster, config.deploymentNamespace, stack))) {
    const namespace = new k8s.core.v1.Namespace(
      "deployment-namespace",
      { metadata: { name: config.deploymentNamespace, labels, annotations } },
      { provider },
    );
    deploymentNamespace = namespace.metadata.name;
    dependsOn.push(namespace);
  }

  let service: SyncService | undefined;
  let serviceNamespace: pulumi.Output<string> | undefined;
  if (config.deployService) {
    const namespace = new k8s.core.v1.Namespace(
      "service-namespace",
      { metadata: { name: config.serviceNamespace, labels, annotations } },
      { provider },
    );
    serviceNamespace = namespace.metadata.name;
    service = new SyncService(
      "mlflow2seldon",
      {
        namespace: serviceNamespace,
        deploymentNamespace,
        target: settings.target,
        image: config.serviceImage,
        env: serviceEnvironment(config, settings, stack),
        mlflowCaCertificate: config.mlflowCaCertificate,
        secretEnv: {
          M2S_MLFLOW_TOKEN: secrets.mlflowToken,
          M2S_MLFLOW_PASSWORD: secrets.mlflowPassword,
          M2S_WEBHOOK_SECRET: secrets.webhookSecret,
        },
        clusterWide: config.clusterWideRbac,
        replicas: config.serviceReplicas,
        resources: config.serviceResources,
        skipAwait: config.skipAwait,
      },
      { providers: { kubernetes: provider } },
    );
  }

  // The stack owns the service's webhook in MLflow: a changed URL or secret is written to MLflow
  // by `pulumi up`, and `pulumi destroy` removes it. The service only receives.
  let webhook: MlflowWebhook | undefined;
  if (config.webhookUrl) {
    if (!secrets.webhookSecret)
      throw new ConfigError([
        {
          setting: "mlflow2seldon:webhookSecret",
          message:
            "webhookUrl needs the webhook's shared secret: pulumi config set --secret mlflow2seldon:webhookSecret VALUE",
        },
      ]);
    webhook = new MlflowWebhook("mlflow-webhook", {
      mlflowUrl: config.mlflowUrl,
      mlflowToken: secrets.mlflowToken,
      mlflowUsername: config.mlflowUsername,
      mlflowPassword: secrets.mlflowPassword,
      mlflowCaCertificate: config.mlflowCaCertificate,
      name: `mlflow2seldon-${stack}`,
      url: config.webhookUrl,
      secret: secrets.webhookSecret,
    });
  }

  let models: ModelDeployments | undefined;
  if (config.snapshotModels) {
    const known = await stackObjects(cluster, settings);
    reportServingViews(known);
    models = new ModelDeployments(
      "models",
      {
        deployments: await planModelDeployments(
          {
            url: config.mlflowUrl,
            token: secrets.plain.token,
            username: config.mlflowUsername,
            password: secrets.plain.password,
            caCertificate: config.mlflowCaCertificate,
          },
          settings,
          { known },
        ),
        owner,
        kubeContext: config.kubeContext,
        kubeconfig: secrets.kubeconfig,
      },
      { dependsOn },
    );
  }

  return {
    serviceNamespace,
    deploymentNamespace,
    serviceDeployment: service?.deploymentName,
    metricsEndpoint: service?.metricsEndpoint,
    modelDeployments: models?.names,
    mlflowWebhookId: webhook?.webhookId,
  };
};
