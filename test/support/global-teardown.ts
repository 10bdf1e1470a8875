// After the integration tests: what the run registered in the testbed's MLflow servers (models
// and webhooks created since it started) and the namespaces tests created are removed, and the
// testbed is compared with what it held before the run: anything more is what the next run on
// the same testbed would start from. It is written to LEFT_BEHIND_FILE, which fails the run in
// its closing line (test/support/summary.js; jest writes its report only after this teardown).
import { CoreV1Api } from "@kubernetes/client-node";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { kubeConfig } from "./cluster";
import { mlflow } from "./mlflow";
import { RUN_STARTED, stateBeforeRun } from "./global-setup";
import { repoRoot } from "./testbed-env";
import { leftBehind, mlflowServers, testbedState } from "./testbed-state";

/** Where the teardown names what the run left behind (the Makefile removes it before a run). */
const LEFT_BEHIND_FILE = join(repoRoot, ".testbed", "left-behind.txt");

export default async function globalTeardown(): Promise<void> {
  const started = Number(process.env[RUN_STARTED]);
  if (!Number.isFinite(started)) return;
  for (const server of mlflowServers()) {
    const registry = mlflow(server);
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

  const before = stateBeforeRun();
  if (!before) return;
  const left = leftBehind(before, await testbedState());
  if (left.length > 0) {
    const text = `the run left behind what the next run would start from:\n  ${left.join("\n  ")}\n`;
    process.stderr.write(text);
    writeFileSync(LEFT_BEHIND_FILE, text);
  }
}
