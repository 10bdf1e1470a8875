// The production-shaped MLflow on the testbed: the newest MLflow 3 on PostgreSQL, its basic-auth
// app, over TLS with a certificate from the testbed's CA. The service reads it as a user that has
// MLflow's default READ permission and nothing more; the registry is shaped by MLflow's admin.
import { freshNamespace, listSeldonDeployments } from "../support/cluster";
import { RegistryAdmin, uniqueModelName } from "../support/mlflow";
import { testbedSetting as setting } from "../support/models";
import { run } from "../support/pulumi";
import { serviceBin, serviceEnv } from "../support/service";
import { cycleOk, syncFixture, type SyncFixture } from "../support/sync";
import { statusRows } from "../../service/status";
import { ANNOTATIONS, LABELS } from "../../engine/vocabulary";

const server = () => setting("M2S_TESTBED_MLFLOW_PROD_URI");
const ca = () => setting("M2S_TESTBED_MLFLOW_PROD_CA");
const admin = () =>
  new RegistryAdmin({
    url: server(),
    username: "admin",
    password: setting("M2S_TESTBED_MLFLOW_PROD_ADMIN_PASSWORD"),
    caFile: ca(),
  });
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
const objectsOf = async () =>
  (await listSeldonDeployments(namespace)).filter(
    (o) => o.metadata.annotations[ANNOTATIONS.modelName] === model,
  );

beforeAll(async () => {
  namespace = await freshNamespace("mlflow-prod");
  fixture = syncFixture(namespace, model);
  // MLflow 3.17 takes an mlflow-artifacts:/ source only with the run that holds it: the versions
  // name their object-store location, served as it is (MLFLOW_SERVER).
  await admin().createRegisteredModel(model);
  for (const version of [1, 2])
    await admin().createModelVersion(
      model,
      `s3://mlflow/artifacts-prod/${encodeURIComponent(model)}/v${version}/model`,
    );
  await admin().transitionStage(model, "1", "Production");
});
afterAll(() => admin().deleteRegisteredModel(model));

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

test("refused by MLflow (a wrong password, no CA for its certificate): one line naming the setting, exit 1, nothing deleted", async () => {
  await cycleOk(fixture.service({ ...reader(), M2S_INCLUDE_MODELS: model }));
  const served = (await objectsOf()).map((o) => o.metadata.uid);
  expect(served.length).toBeGreaterThan(0);
  // The command as a CronJob runs it, as the same owner.
  const once = (settings: Record<string, string | undefined>) =>
    run(process.execPath, [serviceBin, "sync", "--once"], {
      env: {
        ...serviceEnv(namespace, model, fixture.owner, {
          ...reader(),
          M2S_INCLUDE_MODELS: model,
          M2S_HTTP_PORT: "0",
        }),
        ...settings,
      },
    });

  const wrongPassword = once({ M2S_MLFLOW_PASSWORD: "not-the-password" });
  expect(wrongPassword.code).toBe(1);
  expect(wrongPassword.output).toMatch(/HTTP 401 .*M2S_MLFLOW_PASSWORD/);
  expect(wrongPassword.output).not.toContain("not-the-password");

  const noCa = once({ M2S_MLFLOW_CA_FILE: undefined });
  expect(noCa.code).toBe(1);
  expect(noCa.output).toMatch(/TLS certificate is not trusted \(\w+\): .*M2S_MLFLOW_CA_FILE/);

  expect((await objectsOf()).map((o) => o.metadata.uid)).toEqual(served);
});
