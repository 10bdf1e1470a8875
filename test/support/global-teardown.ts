// After the integration tests: what the run registered in the testbed's MLflow servers (models
// and webhooks created since it started) and the namespaces tests created are removed, so the
// next run on the same testbed starts from the same registry and cluster.
import { CoreV1Api } from "@kubernetes/client-node";
import { kubeConfig } from "./cluster";
import { mlflow } from "./mlflow";
import { RUN_STARTED } from "./global-setup";

export default async function globalTeardown(): Promise<void> {
  const started = Number(process.env[RUN_STARTED]);
  if (!Number.isFinite(started)) return;
  const servers = [
    process.env.MLFLOW_TRACKING_URI,
    process.env.M2S_TESTBED_MLFLOW2_URI,
    process.env.M2S_TESTBED_S3_MLFLOW_URI,
  ];
  for (const url of servers) {
    if (!url) continue;
    const registry = mlflow(url);
    for (const model of await registry.listRegisteredModels())
      if ((model.creation_timestamp ?? 0) >= started) await registry.deleteRegisteredModel(model.name);
    // Webhooks exist from MLflow 3.3 on; the older server answers 404.
    const hooks = await registry.listWebhookRecords().catch(() => []);
    for (const hook of hooks)
      if (hook.creation_timestamp >= started) await registry.deleteWebhook(hook.webhook_id);
  }
  const core = kubeConfig().makeApiClient(CoreV1Api);
  const namespaces = await core.listNamespace({ labelSelector: "mlflow2seldon.io/test=true" });
  for (const namespace of namespaces.items)
    await core.deleteNamespace({ name: namespace.metadata!.name! }).catch(() => undefined);
}
