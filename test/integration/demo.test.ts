// The README's first command, as written from the repository root: `make demo` tells the whole
// story on the testbed (already up here) and ends with a real prediction from the Pod the serving
// controller made. Its stacks are destroyed and the namespaces it prepared deleted afterwards;
// `make demo-clean` is not run, since it stops the testbed the other tests share.
import { core } from "../support/cluster";
import { pulumi, runOk } from "../support/pulumi";

afterAll(async () => {
  for (const stack of ["demo", "demo-kserve", "demo-seldon-v2"]) {
    pulumi(["destroy", "--yes", "--stack", stack]);
    pulumi(["stack", "rm", "--yes", "--force", "--stack", stack]);
  }
  for (const name of ["seldon-demo", "kserve-demo", "seldon-v2-demo"])
    await core()
      .deleteNamespace({ name })
      .catch(() => undefined);
});

test.each([
  { args: ["demo"], kind: "SeldonDeployment", controller: "Seldon Core's operator", server: "its Pod" },
  {
    args: ["demo", "TARGET=kserve"],
    kind: "InferenceService",
    controller: "KServe's controller",
    server: "its Pod",
  },
  { args: ["demo", "TARGET=seldon-v2"], kind: "Model", controller: undefined, server: "MLServer" },
])(
  "make $args tells the story with $kind objects, and $server serves a V2 prediction",
  ({ args, kind, controller }) => {
    const output = runOk("make", args);
    for (let step = 1; step <= 7; step++) expect(output).toContain(`[${step}/7 +`);
    expect(output).toContain(`kind: ${kind}`);
    expect(output).toMatch(/\+ .*pulumi-nodejs:dynamic\/mlflow2seldon:ModelDeployment/);
    expect(output).toMatch(/~ .*pulumi-nodejs:dynamic\/mlflow2seldon:ModelDeployment/);
    expect(output).toMatch(
      /champion -> version \d+: the service updated fraud-detector-champion-\w+ to version \d+/,
    );
    expect(output).toMatch(/storageUri: s3:\/\/mlflow\/artifacts\//);
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
  },
);
