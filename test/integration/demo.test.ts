// The README's first command, as written from the repository root: `make demo` tells the whole
// story on the testbed (already up here) and ends with a real prediction from the Pod the serving
// controller made. Its stacks are destroyed and the namespaces it prepared deleted afterwards;
// `make demo-clean` is not run, since it stops the testbed the other tests share.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { core } from "../support/cluster";
import { repoRoot } from "../support/testbed-env";
import { pulumi, runOk } from "../support/pulumi";

afterAll(async () => {
  for (const stack of ["demo", "demo-kserve", "demo-seldon-v2", "demo-production"]) {
    pulumi(["destroy", "--yes", "--stack", stack]);
    pulumi(["stack", "rm", "--yes", "--force", "--stack", stack]);
  }
  for (const name of ["seldon-demo", "kserve-demo", "seldon-v2-demo", "seldon-demo-production"])
    await core()
      .deleteNamespace({ name })
      .catch(() => undefined);
});

const seldonV1 = { kind: "SeldonDeployment", controller: "Seldon Core's operator", server: "its Pod" };
test.each([
  { args: ["demo"], ...seldonV1, artifacts: "artifacts" },
  {
    args: ["demo", "TARGET=kserve"],
    kind: "InferenceService",
    controller: "KServe's controller",
    server: "its Pod",
    artifacts: "artifacts",
  },
  {
    args: ["demo", "TARGET=seldon-v2"],
    kind: "Model",
    controller: undefined,
    server: "MLServer",
    artifacts: "artifacts",
  },
  // The production-shaped MLflow: registered by its admin, read by the stack and the service as a
  // user with READ over TLS.
  { args: ["demo", "MLFLOW=production"], ...seldonV1, artifacts: "artifacts-prod" },
])(
  "make $args tells the story with $kind objects, and $server serves a V2 prediction",
  ({ args, kind, controller, artifacts }) => {
    const output = runOk("make", args);
    for (let step = 1; step <= 7; step++) expect(output).toContain(`[${step}/7 +`);
    expect(output).toContain(`kind: ${kind}`);
    expect(output).toMatch(/\+ .*pulumi-nodejs:dynamic\/mlflow2seldon:ModelDeployment/);
    expect(output).toMatch(/~ .*pulumi-nodejs:dynamic\/mlflow2seldon:ModelDeployment/);
    expect(output).toMatch(
      /champion -> version \d+: the service updated fraud-detector-champion-\w+ to version \d+/,
    );
    expect(output).toContain(`storageUri: s3://mlflow/${artifacts}/`);
    if (controller) {
      // The serving system's view of the stack's object reaches Pulumi's output (step 4 on).
      expect(output).toMatch(new RegExp(`${kind} iris-classifier-production-\\w+: (Creating|not ready)`));
      expect(output).toContain(`The Pod ${controller} made for the Production ${kind}`);
      // The Pod's init container (the storage initializer) and model server, each run by its stand-in.
      expect(output).toMatch(/initializer: \S+ stood for by /);
      expect(output).toMatch(/: \S*mlserver\S* stood for by MLServer/);
    }
    expect(output).toContain("-> predictions [0,1,2,2]");
    // The plugins are installed where Pulumi looks for them: no command warns about them.
    expect(output).not.toMatch(/warning: using pulumi-\S+ from \$PATH/);
    // MLflow's passwords reach neither the output, the logs nor the stack's config in plain text.
    const passwords = [
      process.env.M2S_TESTBED_MLFLOW_PROD_ADMIN_PASSWORD!,
      process.env.M2S_TESTBED_MLFLOW_PROD_READER_PASSWORD!,
    ];
    const stackConfig = join(
      repoRoot,
      `Pulumi.${args.includes("MLFLOW=production") ? "demo-production" : "demo"}.yaml`,
    );
    const logs = ["demo-sync.log", "demo-train.log"].map((f) => join(repoRoot, ".testbed", "logs", f));
    for (const text of [
      output,
      ...[stackConfig, ...logs].filter(existsSync).map((f) => readFileSync(f, "utf8")),
    ])
      for (const password of passwords) expect(text).not.toContain(password);
  },
);
