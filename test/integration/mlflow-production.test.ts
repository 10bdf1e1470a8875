// The production-shaped MLflow on the testbed: the newest MLflow 3 on PostgreSQL, its basic-auth
// app, over TLS with a certificate from the testbed's CA. The service reads it as a user that has
// MLflow's default READ permission and nothing more; the registry is shaped by MLflow's admin.
import { AppsV1Api } from "@kubernetes/client-node";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { core, freshNamespace, kubeConfig, listSeldonDeployments } from "../support/cluster";
import { productionMlflowAdmin, RegistryAdmin, uniqueModelName } from "../support/mlflow";
import { testbedSetting as setting } from "../support/models";
import { pulumi, pulumiOk, repositoryStack, run } from "../support/pulumi";
import { serviceBin, serviceEnv } from "../support/service";
import { cycleOk, syncFixture, type SyncFixture } from "../support/sync";
import { statusRows } from "../../service/status";
import { WRITE_BACK_TAGS } from "../../service/sync-service";
import { ANNOTATIONS, LABELS } from "../../engine/vocabulary";

const server = () => setting("M2S_TESTBED_MLFLOW_PROD_URI");
const ca = () => setting("M2S_TESTBED_MLFLOW_PROD_CA");
const admin = () => new RegistryAdmin(productionMlflowAdmin());
/** The service's MLflow settings (the read-only user, the CA that signed the server's certificate) and serving mode. */
const reader = (): Record<string, string> => ({
  M2S_MLFLOW_HOST: server(),
  M2S_SERVING_MODE: "mlflow-server",
  M2S_MLFLOW_USERNAME: setting("M2S_TESTBED_MLFLOW_PROD_READER"),
  M2S_MLFLOW_PASSWORD: setting("M2S_TESTBED_MLFLOW_PROD_READER_PASSWORD"),
  M2S_MLFLOW_CA_FILE: ca(),
});

let namespace: string;
let fixture: SyncFixture;
const model = uniqueModelName("prod model");
/** Models this file registered: removed afterwards unless a test already did. */
const registered = new Set([model]);
const objectsOf = async (name = model) =>
  (await listSeldonDeployments(namespace)).filter(
    (o) => o.metadata.annotations[ANNOTATIONS.modelName] === name,
  );
/** A model with versions 1 and 2 whose sources name their object-store location, 1 in Production. */
async function registerProductionModel(name: string) {
  registered.add(name);
  await admin().createRegisteredModel(name);
  for (const version of [1, 2])
    await admin().createModelVersion(
      name,
      `s3://mlflow/artifacts-prod/${encodeURIComponent(name)}/v${version}/model`,
    );
  await admin().transitionStage(name, "1", "Production");
}

beforeAll(async () => {
  namespace = await freshNamespace("mlflow-prod");
  fixture = syncFixture(namespace, model);
  // MLflow 3.17 takes an mlflow-artifacts:/ source only with the run that holds it: the versions
  // name their object-store location, served as it is (MLFLOW_SERVER).
  await registerProductionModel(model);
});
afterAll(async () => {
  for (const name of registered)
    if (await admin().findRegisteredModel(name)) await admin().deleteRegisteredModel(name);
});

test("the read-only user syncs over TLS: full read, delta poll, targeted reconcile, status", async () => {
  const service = fixture.service({ ...reader(), M2S_INCLUDE_MODELS: model });
  const versionsServed = async () => (await objectsOf()).map((o) => o.metadata.labels[LABELS.version]).sort();
  await cycleOk(service);
  expect(await versionsServed()).toEqual(["1"]);

  // The delta poll finds the promotion by the model's last update, as PostgreSQL orders it.
  await admin().transitionStage(model, "2", "Production", true);
  expect(await service.deltaCycle()).toBe("changed");
  expect(await versionsServed()).toEqual(["2"]);

  // A webhook delivery's targeted reconcile serves an alias.
  await admin().setAlias(model, "champion", "1");
  expect(await service.targetedCycle(new Set([model]))).toBe(true);
  expect(await versionsServed()).toEqual(["1", "2"]);

  const outcome = await cycleOk(service);
  expect(statusRows(outcome.report!, { applied: true })).toEqual(
    expect.arrayContaining([
      expect.objectContaining({
        model,
        slot: "stage:Production",
        wanted: "2",
        served: "2",
        state: "in sync",
      }),
      expect.objectContaining({ model, slot: "alias:champion", wanted: "1", served: "1", state: "in sync" }),
    ]),
  );
});

test("refused by MLflow (a wrong password, no CA for its certificate): one line naming the setting, exit 1 for a cycle and 2 at the service's start, nothing deleted", async () => {
  await cycleOk(fixture.service({ ...reader(), M2S_INCLUDE_MODELS: model }));
  const served = (await objectsOf()).map((o) => o.metadata.uid);
  expect(served.length).toBeGreaterThan(0);
  // The commands as a CronJob (`sync --once`) and the Deployment (`sync`) run them, as the same owner.
  const command = (args: string[], settings: Record<string, string | undefined>) =>
    run(process.execPath, [serviceBin, ...args], {
      env: {
        ...serviceEnv(namespace, model, fixture.owner, {
          ...reader(),
          M2S_INCLUDE_MODELS: model,
          M2S_HTTP_PORT: "0",
        }),
        ...settings,
      },
    });
  const wrongPassword = { M2S_MLFLOW_PASSWORD: "not-the-password" };
  const noCa = { M2S_MLFLOW_CA_FILE: undefined };

  const cycleWrongPassword = command(["sync", "--once"], wrongPassword);
  expect(cycleWrongPassword.code).toBe(1);
  expect(cycleWrongPassword.output).toMatch(/HTTP 401 .*M2S_MLFLOW_PASSWORD/);
  expect(cycleWrongPassword.output).not.toContain("not-the-password");

  const cycleNoCa = command(["sync", "--once"], noCa);
  expect(cycleNoCa.code).toBe(1);
  expect(cycleNoCa.output).toMatch(/TLS certificate is not trusted \(\w+\): .*M2S_MLFLOW_CA_FILE/);

  // The service's start-up check stops before its loop: a setting, not an outage.
  const startWrongPassword = command(["sync"], wrongPassword);
  expect(startWrongPassword.code).toBe(2);
  expect(startWrongPassword.output).toMatch(
    /^mlflow2seldon: invalid configuration: MLflow registered-models\/search: HTTP 401 .*M2S_MLFLOW_PASSWORD.*$/m,
  );
  expect(startWrongPassword.output).not.toContain("not-the-password");
  const startNoCa = command(["sync"], noCa);
  expect(startNoCa.code).toBe(2);
  expect(startNoCa.output).toMatch(
    /^mlflow2seldon: invalid configuration: MLflow registered-models\/search: the server's TLS certificate is not trusted \(\w+\): .*M2S_MLFLOW_CA_FILE.*$/m,
  );
  expect(startNoCa.output).not.toContain("sync service started");

  expect((await objectsOf()).map((o) => o.metadata.uid)).toEqual(served);
});

test("a permission revoked on one model mid-run: its objects are kept, withheld with MLflow's 403, until the registry deletes the model", async () => {
  const revoked = uniqueModelName("prod revoked");
  await registerProductionModel(revoked);
  const service = fixture.service({ ...reader(), M2S_INCLUDE_MODELS: `${model},${revoked}` });
  await cycleOk(service);
  const served = (await objectsOf(revoked)).map((o) => o.metadata.uid);
  expect(served).toHaveLength(1);

  // The admin takes READ away on this one model: MLflow leaves it out of the user's search and
  // answers a direct read with 403. A vanished permission is not the registry's deletion.
  await admin().grantModelPermission(setting("M2S_TESTBED_MLFLOW_PROD_READER"), revoked, "DENY");
  // The cycle does not count as a success (`sync --once` exits 1) while a deletion is withheld.
  const outcome = await service.runCycle();
  expect(outcome.ok).toBe(false);
  expect(outcome.report!.withheld).toEqual([
    expect.objectContaining({
      model: revoked,
      cause: "unconfirmed",
      reason: expect.stringMatching(/reading it directly failed \(.*HTTP 403/),
    }),
  ]);
  expect(statusRows(outcome.report!, { applied: true })).toContainEqual(
    expect.objectContaining({ model: revoked, slot: "stage:Production", served: "1", state: "withheld" }),
  );
  // A webhook delivery naming it reads it directly too: refused, so nothing changes.
  expect(await service.targetedCycle(new Set([revoked]))).toBe(false);
  expect((await objectsOf(revoked)).map((o) => o.metadata.uid)).toEqual(served);
  // The other model is served as before.
  expect(await objectsOf()).not.toHaveLength(0);

  // The registry's own word: the model is deleted, MLflow answers the direct read with
  // RESOURCE_DOES_NOT_EXIST, and its objects go.
  await admin().deleteRegisteredModel(revoked);
  const afterDeletion = await cycleOk(service);
  expect(afterDeletion.report!.withheld).toEqual([]);
  expect(await objectsOf(revoked)).toEqual([]);
});

test("write-back and webhook registration need more than READ: refused with the permission named, nothing else changes; EDIT on the model lets write-back tag it", async () => {
  const tagged = uniqueModelName("prod write-back");
  await registerProductionModel(tagged);
  const settings = { ...reader(), M2S_INCLUDE_MODELS: tagged, M2S_HTTP_PORT: "0", M2S_WRITE_BACK: "true" };
  // An owner of its own: the other tests' objects are not this service's to manage.
  const once = () =>
    run(process.execPath, [serviceBin, "sync", "--once"], {
      env: serviceEnv(namespace, tagged, `${fixture.owner}-write-back`, settings),
    });
  const stateTag = async (version: string) =>
    (await admin().getModelVersion(tagged, version)).tags[WRITE_BACK_TAGS.state];

  // READ only: the object is written, the tags are refused (best effort: the cycle succeeds).
  const refused = once();
  expect(refused.code).toBe(0);
  expect(refused.output).toMatch(
    /HTTP 403 .*needs EDIT on the registered model for M2S_WRITE_BACK.*"msg":"write-back failed"/,
  );
  expect(await objectsOf(tagged)).toHaveLength(1);
  expect(await stateTag("1")).toBeUndefined();

  // EDIT on this model: the next version served is tagged.
  await admin().grantModelPermission(setting("M2S_TESTBED_MLFLOW_PROD_READER"), tagged, "EDIT");
  await admin().transitionStage(tagged, "2", "Production", true);
  const granted = once();
  expect(granted.code).toBe(0);
  expect(granted.output).not.toMatch(/write-back failed/);
  expect(await stateTag("2")).toBe("deployed");

  // MLflow's basic-auth app lets only an admin list or create webhooks: the service says so and
  // keeps polling (deliveries to a webhook an admin registered are still verified and acted on).
  const withWebhook = fixture.service({
    ...reader(),
    M2S_INCLUDE_MODELS: tagged,
    M2S_WEBHOOK_URL: "https://mlflow2seldon.example.com/webhooks/mlflow",
    M2S_WEBHOOK_SECRET: "a-secret-of-sixteen-chars",
  });
  expect(await withWebhook.registerWebhook()).toBe(false);
  expect(withWebhook.statusPage().webhook).toEqual({
    state: "not registered",
    reason: expect.stringMatching(/HTTP 403 .*only an admin list and create webhooks/),
  });
  expect((await withWebhook.metrics.webhookRegistered.get()).values[0].value).toBe(0);
  await expect(withWebhook.client.listWebhooks()).rejects.toThrow(
    /HTTP 403 .*only an admin list and create webhooks/,
  );
});

test("the Pulumi program trusts the CA from stack config: its snapshot serves the model, and the service it deploys gets the CA mounted", async () => {
  const id = randomBytes(3).toString("hex");
  const snapshotted = uniqueModelName("prod pulumi");
  await registerProductionModel(snapshotted);
  const stack = repositoryStack(
    `it-prod-${id}`,
    {
      mlflowUrl: server(),
      mlflowUsername: setting("M2S_TESTBED_MLFLOW_PROD_READER"),
      mlflowCaCertificate: readFileSync(ca(), "utf8"),
      deploymentNamespace: namespace,
      serviceNamespace: `m2s-prod-${id}`,
      servingMode: "mlflow-server",
      stackModels: JSON.stringify([snapshotted]),
      skipAwait: "true",
    },
    { mlflowPassword: setting("M2S_TESTBED_MLFLOW_PROD_READER_PASSWORD") },
  );
  try {
    pulumiOk(["up", "--yes", "--stack", stack.name]);
    const served = await objectsOf(snapshotted);
    expect(served.map((o) => [o.metadata.labels[LABELS.owner], o.metadata.labels[LABELS.version]])).toEqual([
      [`stack-${stack.name}`, "1"],
    ]);
    const apps = kubeConfig().makeApiClient(AppsV1Api);
    const deployment = await apps.readNamespacedDeployment({
      name: "mlflow2seldon",
      namespace: `m2s-prod-${id}`,
    });
    const pod = deployment.spec!.template.spec!;
    const container = pod.containers[0];
    const caFile = container.env!.find((e) => e.name === "M2S_MLFLOW_CA_FILE")!.value!;
    const mount = container.volumeMounts!.find((m) => caFile.startsWith(`${m.mountPath}/`))!;
    expect(mount.readOnly).toBe(true);
    const configMap = pod.volumes!.find((v) => v.name === mount.name)!.configMap!.name!;
    const data = (await core().readNamespacedConfigMap({ name: configMap, namespace: `m2s-prod-${id}` }))
      .data!;
    expect(data[caFile.slice(mount.mountPath.length + 1)]).toBe(readFileSync(ca(), "utf8"));

    // Without the CA the preview fails with the setting named, and nothing is planned.
    pulumiOk(["config", "rm", "--stack", stack.name, "mlflow2seldon:mlflowCaCertificate"]);
    const untrusted = pulumi(["preview", "--stack", stack.name]);
    expect(untrusted.code).not.toBe(0);
    expect(untrusted.output).toMatch(
      /TLS certificate is not trusted \(\w+\): .*stack config mlflowCaCertificate/,
    );
  } finally {
    pulumiOk(["destroy", "--yes", "--stack", stack.name]);
    stack.remove();
  }
  expect(await objectsOf(snapshotted)).toEqual([]);
});
