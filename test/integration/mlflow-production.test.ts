// The production-shaped MLflow on the testbed: the newest MLflow 3 on PostgreSQL, its basic-auth
// app, over TLS with a certificate from the testbed's CA. The service reads it as a user that has
// MLflow's default READ permission and nothing more; the registry is shaped by MLflow's admin.
import { freshNamespace, listSeldonDeployments } from "../support/cluster";
import { RegistryAdmin, registerModel, uniqueModelName } from "../support/mlflow";
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
/** The service's MLflow settings: the read-only user, the CA that signed the server's certificate. */
const reader = (): Record<string, string> => ({
  M2S_MLFLOW_HOST: server(),
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
  await registerModel(model, 2, {}, admin());
  await admin().transitionStage(model, "1", "Production");
});
afterAll(() => admin().deleteRegisteredModel(model));

test("the read-only user syncs over TLS: a Production version is served, a promotion updates it, status reads it", async () => {
  const service = fixture.service({ ...reader(), M2S_INCLUDE_MODELS: model });
  await cycleOk(service);
  expect((await objectsOf()).map((o) => o.metadata.labels[LABELS.version])).toEqual(["1"]);

  await admin().transitionStage(model, "2", "Production", true);
  const outcome = await cycleOk(service);
  expect((await objectsOf()).map((o) => o.metadata.labels[LABELS.version])).toEqual(["2"]);
  expect(statusRows(outcome.report!, { applied: true })).toContainEqual(
    expect.objectContaining({ model, wanted: "2", served: "2", state: "in sync" }),
  );
});

test("refused by MLflow (a wrong password, no CA for its certificate): one line naming the setting, exit 1, nothing deleted", async () => {
  await cycleOk(fixture.service({ ...reader(), M2S_INCLUDE_MODELS: model }));
  const served = (await objectsOf()).map((o) => o.metadata.uid);
  expect(served).toHaveLength(1);
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
