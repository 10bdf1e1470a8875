// The stack's MLflow webhook with the plain CLI on the testbed: `pulumi up` registers it in the
// real MLflow, which delivers signed events to a sync service receiving on loopback; a rotated
// secret is written to the same webhook (deliveries then verify with the new secret only); and
// `pulumi destroy` removes it from MLflow.
import { randomBytes } from "node:crypto";
import { freshNamespace, listSeldonDeployments } from "../support/cluster";
import { mlflow, mlflowUrl, registerModel, uniqueModelName } from "../support/mlflow";
import { pulumiOk, repositoryStack } from "../support/pulumi";
import { metricValue, serviceEnv, startService } from "../support/service";
import { eventually, freePort } from "../support/wait";
import { ANNOTATIONS, LABELS } from "../../engine/vocabulary";

const id = randomBytes(3).toString("hex");
const stack = `it-hook-${id}`;
const webhookName = `mlflow2seldon-${stack}`;
const OLD_SECRET = `whsec-old-${randomBytes(8).toString("hex")}`;
const NEW_SECRET = `whsec-new-${randomBytes(8).toString("hex")}`;
const model = uniqueModelName("stack webhook model");

let namespace: string;
let port: number;
let repoStack: ReturnType<typeof repositoryStack>;

const stackWebhooks = async () => (await mlflow().listWebhooks()).filter((w) => w.name === webhookName);
const deliveries = (result: string) =>
  metricValue(port, `mlflow2seldon_webhook_deliveries_total{result="${result}"}`);
const servedAliases = async () =>
  (await listSeldonDeployments(namespace))
    .filter((o) => o.metadata.annotations[ANNOTATIONS.modelName] === model)
    .map((o) => o.metadata.labels[LABELS.slot]);
/** Moves an alias, which MLflow announces only by webhook (nothing a poll could see changes). */
const moveAlias = async (alias: string) => {
  // MLflow's server caches its webhook list for 1 s.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await mlflow().setAlias(model, alias, "1");
};

beforeAll(async () => {
  namespace = await freshNamespace("stack-webhook");
  await registerModel(model, 1);
  port = await freePort();
  // The receiver knows only the new secret; it registers nothing (no M2S_WEBHOOK_URL): the stack
  // owns the webhook. Full reads are an hour apart and the delta poll is off.
  await startService(
    serviceEnv(namespace, model, `hook-${id}`, {
      M2S_HTTP_PORT: String(port),
      M2S_SYNC_INTERVAL_SECONDS: "3600",
      M2S_DELTA_POLL_SECONDS: "0",
      M2S_WEBHOOK_SECRET: NEW_SECRET,
      M2S_ALIASES: "champion,challenger",
    }),
  );
  repoStack = repositoryStack(
    stack,
    {
      mlflowUrl: mlflowUrl(),
      deployService: "false",
      snapshotModels: "false",
      deploymentNamespace: namespace,
      webhookUrl: `http://127.0.0.1:${port}/webhooks/mlflow`,
    },
    { webhookSecret: OLD_SECRET },
  );
});

afterAll(async () => {
  repoStack?.remove();
});

test("pulumi up registers the stack's webhook in MLflow; its secret stays secret in the state", async () => {
  const up = pulumiOk(["up", "--yes", "--stack", stack]);
  expect(up).toMatch(/\+ .*pulumi-nodejs:dynamic\/mlflow2seldon:MlflowWebhook/);
  const [hook] = await stackWebhooks();
  expect(hook).toMatchObject({ url: `http://127.0.0.1:${port}/webhooks/mlflow` });
  expect(pulumiOk(["stack", "output", "mlflowWebhookId", "--stack", stack]).trim()).toBe(hook.webhook_id);
  const state = pulumiOk(["stack", "export", "--stack", stack]);
  expect(state).not.toContain(OLD_SECRET);

  // Signed with the old secret, the receiver refuses MLflow's delivery.
  const refused = await deliveries("401");
  await moveAlias("champion");
  await eventually("MLflow's delivery, refused", async () => (await deliveries("401")) > refused);
  expect(await servedAliases()).toEqual([]);
});

test("a rotated secret is written to the same webhook by pulumi up: deliveries verify with the new secret", async () => {
  const [before] = await stackWebhooks();
  pulumiOk(["config", "set", "--stack", stack, "--secret", "mlflow2seldon:webhookSecret"], {
    input: NEW_SECRET,
  });
  const up = pulumiOk(["up", "--yes", "--stack", stack]);
  expect(up).toMatch(/~ .*pulumi-nodejs:dynamic\/mlflow2seldon:MlflowWebhook/);
  expect((await stackWebhooks()).map((w) => w.webhook_id)).toEqual([before.webhook_id]);
  expect(pulumiOk(["stack", "export", "--stack", stack])).not.toContain(NEW_SECRET);

  const accepted = await deliveries("202");
  await moveAlias("challenger");
  await eventually("MLflow's delivery, accepted", async () => (await deliveries("202")) > accepted);
  await eventually("the alias served", async () => (await servedAliases()).length > 0);
});

test("pulumi destroy removes the stack's webhook from MLflow", async () => {
  pulumiOk(["destroy", "--yes", "--stack", stack]);
  expect(await stackWebhooks()).toEqual([]);
});
