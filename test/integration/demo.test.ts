// The README's first command, as written from the repository root: `make demo` tells the whole
// story on the testbed (already up here) and ends with a real prediction. Its stack is destroyed
// afterwards; `make demo-clean` is not run, since it stops the testbed the other tests share.
import { pulumi, runOk } from "../support/pulumi";

afterAll(() => {
  for (const stack of ["demo", "demo-kserve", "demo-seldon-v2"]) {
    pulumi(["destroy", "--yes", "--stack", stack]);
    pulumi(["stack", "rm", "--yes", "--force", "--stack", stack]);
  }
});

test("make demo runs every step and serves a prediction from the SeldonDeployment's model path", () => {
  const output = runOk("make", ["demo"]);
  for (let step = 1; step <= 7; step++) expect(output).toContain(`[${step}/7 +`);
  expect(output).toMatch(/\+ .*pulumi-nodejs:dynamic\/mlflow2seldon:ModelDeployment/);
  expect(output).toMatch(/~ .*pulumi-nodejs:dynamic\/mlflow2seldon:ModelDeployment/);
  expect(output).toMatch(
    /champion -> version \d+: the service updated fraud-detector-champion-\w+ to version \d+/,
  );
  expect(output).toMatch(/-> \{"predictions": \[0, 1, 2, 2\]\}/);
});

test.each([
  ["kserve", "InferenceService"],
  ["seldon-v2", "Model"],
])(
  "make demo TARGET=%s tells the story with %ss and serves a V2 prediction from MLServer",
  (target, kind) => {
    const output = runOk("make", ["demo", `TARGET=${target}`]);
    for (let step = 1; step <= 7; step++) expect(output).toContain(`[${step}/7 +`);
    expect(output).toContain(`kind: ${kind}`);
    expect(output).toMatch(/~ .*pulumi-nodejs:dynamic\/mlflow2seldon:ModelDeployment/);
    expect(output).toMatch(
      /champion -> version \d+: the service updated fraud-detector-champion-\w+ to version \d+/,
    );
    expect(output).toMatch(/storageUri: s3:\/\/mlflow\/artifacts\//);
    expect(output).toContain("-> predictions [0,1,2,2]");
  },
);
