// The README's Pulumi commands, run exactly as written: the plain CLI in a fresh clone of the
// repository right after `npm ci` (no build step), and the make verbs in the repository root,
// all on the dev stack (Pulumi.dev.yaml) against the testbed.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listSeldonDeployments } from "../support/cluster";
import { mlflow } from "../support/mlflow";
import { pulumiOk, run, runOk } from "../support/pulumi";
import { readmeCommands, withoutComments } from "../support/readme";
import { repoRoot } from "../support/testbed-env";
import { LABELS } from "../../engine/vocabulary";

const [cliBlock, makeBlock] = readmeCommands("## The Pulumi program");
const clone = join(mkdtempSync(join(tmpdir(), "mlflow2seldon-clone-")), "mlflow2seldon");
// The dev stack's model and namespace (Pulumi.dev.yaml).
const MODEL = "iris classifier";
const NAMESPACE = "seldon-dev";

/** One README line through bash, in the given folder, with the testbed's environment loaded. */
function readmeLine(line: string, cwd: string): string {
  return runOk("bash", ["-c", line], { cwd });
}

const devObjects = async () =>
  (
    await listSeldonDeployments(NAMESPACE).catch((error: { code?: number }) => {
      // Only a namespace that does not exist (yet, or any more) holds nothing.
      if (error.code === 404) return [];
      throw error;
    })
  ).filter((o) => o.metadata.labels[LABELS.owner] === "stack-dev");

beforeAll(async () => {
  // The demo registers this model; on a testbed without it, register it here.
  const client = mlflow();
  const existing = await client.findRegisteredModel(MODEL);
  if (!existing) {
    await client.createRegisteredModel(MODEL, {});
    await client.createModelVersion(MODEL, "mlflow-artifacts:/readme/iris/model");
  }
  const versions = await client.searchModelVersions(MODEL);
  if (!versions.some((v) => v.current_stage === "Production"))
    await client.transitionStage(MODEL, versions[0].version, "Production");
  runOk("git", ["clone", "--quiet", repoRoot, clone], { cwd: tmpdir() });
});

afterAll(() => {
  // The dev stack stays defined by Pulumi.dev.yaml; only its state in the testbed's backend goes.
  run("pulumi", ["stack", "rm", "--yes", "--force", "--preserve-config", "--stack", "dev"]);
  rmSync(join(clone, ".."), { recursive: true, force: true });
});

test("the README shows the plain CLI and the make verbs", () => {
  expect(withoutComments(cliBlock)).toEqual([
    "pulumi stack select --create dev",
    "pulumi preview --diff",
    "pulumi up --yes",
    "pulumi destroy --yes",
  ]);
  expect(withoutComments(makeBlock)).toEqual([
    "make preview STACK=dev",
    "make deploy STACK=dev",
    "make destroy STACK=dev",
    "make helm_deploy",
    "make helm_delete",
  ]);
});

test("in a fresh clone after npm ci, and from the repository root with make, every command works", async () => {
  const [select, preview, up, destroy] = cliBlock;
  const [makePreview, makeDeploy, makeDestroy, helmDeploy, helmDelete] = makeBlock;
  runOk("npm", ["ci", "--no-audit", "--no-fund", "--prefer-offline"], { cwd: clone });

  readmeLine(select, clone);
  const planned = readmeLine(preview, clone);
  expect(planned).toMatch(/\+ .*pulumi-nodejs:dynamic\/mlflow2seldon:ModelDeployment/);
  expect(planned).toContain("iris-classifier-production");
  expect(readmeLine(makePreview, repoRoot)).toMatch(
    /\+ .*pulumi-nodejs:dynamic\/mlflow2seldon:ModelDeployment/,
  );

  readmeLine(makeDeploy, repoRoot);
  const [created] = await devObjects();
  expect(created.metadata.annotations["mlflow2seldon.io/model-name"]).toBe(MODEL);
  // The same stack from the clone and again through the chart's name: nothing left to change.
  expect(readmeLine(up, clone)).toMatch(/Resources:\s+\d+ unchanged/);
  expect(readmeLine(helmDeploy, repoRoot)).toMatch(/Resources:\s+\d+ unchanged/);

  readmeLine(destroy, clone);
  expect(await devObjects()).toEqual([]);
  // Already destroyed: both verbs succeed with nothing to do.
  readmeLine(makeDestroy, repoRoot);
  readmeLine(helmDelete, repoRoot);
  expect(pulumiOk(["stack", "--stack", "dev", "--show-ids"])).not.toContain("ModelDeployment");
});
