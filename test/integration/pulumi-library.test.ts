// The package as a library of another Pulumi program: `npm pack`, installed into a team's own
// project in another folder whose index.ts imports the components with types; the cluster is
// given as kubeconfig content (a secret) with KUBECONFIG unset. `pulumi up` there deploys the
// service and the registry snapshot on the testbed; `pulumi destroy` removes them.
import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listSeldonDeployments } from "../support/cluster";
import { mlflow, mlflowUrl, registerModel } from "../support/mlflow";
import { privateTmpdir, pulumiOk, run, runOk } from "../support/pulumi";
import { repoRoot } from "../support/testbed-env";
import { LABELS } from "../../engine/vocabulary";

const id = randomBytes(3).toString("hex");
const stack = `lib-${id}`;
const namespace = `team-${id}`;
const model = `team model ${id}`;
const project = mkdtempSync(join(tmpdir(), "team-models-"));
const kubeconfig = readFileSync(process.env.KUBECONFIG!, "utf8");
const clientKey = /client-key-data: (\S+)/.exec(kubeconfig)![1];
// The provider processes find the cluster only through the secret config.
const noKubeconfig = { KUBECONFIG: undefined };
const inProject = { cwd: project, env: noKubeconfig };

beforeAll(async () => {
  await registerModel(model, 1);
  await mlflow().transitionStage(model, "1", "Production");
  cpSync(join(repoRoot, "test", "fixtures", "library-project"), project, { recursive: true });
});

// Kubeconfig content makes the Kubernetes plugin write a copy into TMPDIR that it never removes:
// the commands get a TMPDIR of their own, removed afterwards (as the Makefile's wrappers do).
const tmp = privateTmpdir("team-pulumi");

afterAll(() => {
  rmSync(project, { recursive: true, force: true });
  tmp.remove();
});

test("npm pack holds the library and its declarations, not tests, bench, testbed or stacks", () => {
  const listing = run("npm", ["pack", "--dry-run", "--json"]);
  expect(listing.code).toBe(0);
  // The JSON report follows the build's own lines (prepack).
  const [pack] = JSON.parse(listing.stdout.slice(listing.stdout.indexOf("\n[") + 1)) as {
    files: { path: string }[];
  }[];
  const files = pack.files.map((f) => f.path);
  expect(files).toEqual(expect.arrayContaining(["dist/components/index.js", "dist/components/index.d.ts"]));
  expect(files).toContain("dist/provider/runtime.js");
  expect(files.filter((f) => /^(test|bench|testbed|dist\/(test|bench|deploy))\/|^Pulumi\./.test(f))).toEqual(
    [],
  );
});

test("another project installs the tarball, and pulumi up / destroy there deploy and remove everything", async () => {
  runOk("npm", ["pack", "--pack-destination", project]);
  const devDependencies = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")).devDependencies;
  const pinned = ["@pulumi/pulumi", "@pulumi/kubernetes", "typescript", "ts-node", "@types/node"].map(
    (name) => `${name}@${devDependencies[name]}`,
  );
  runOk(
    "npm",
    [
      "install",
      "--ignore-scripts",
      "--no-audit",
      "--no-fund",
      "--prefer-offline",
      "./mlflow2seldon-0.1.0.tgz",
      ...pinned,
    ],
    { cwd: project },
  );

  pulumiOk(["stack", "init", stack], inProject);
  pulumiOk(["config", "set", "mlflowUrl", mlflowUrl()], inProject);
  pulumiOk(["config", "set", "models", model], inProject);
  pulumiOk(["config", "set", "namespace", namespace], inProject);
  pulumiOk(["config", "set", "--secret", "kubeconfig"], { ...inProject, input: kubeconfig });

  const up = pulumiOk(["up", "--yes"], inProject);
  expect(up).toContain("mlflow2seldon:index:SyncService");
  expect(up).toContain("mlflow2seldon:index:ModelDeployments");
  const [served] = (await listSeldonDeployments(namespace)).filter(
    (o) => o.metadata.labels[LABELS.owner] === `team-${stack}`,
  );
  expect(served.metadata.labels[LABELS.version]).toBe("1");

  // The kubeconfig's key is secret in the state and never printed.
  expect(up).not.toContain(clientKey);
  expect(pulumiOk(["stack", "export"], inProject)).not.toContain(clientKey);
  expect(pulumiOk(["stack", "output", "--json"], inProject)).not.toContain(clientKey);
  // The plugin's copy of the content, key included, in the TMPDIR it was given.
  const copies = tmp.kubeconfigCopies();
  expect(copies.length).toBeGreaterThan(0);
  expect(readFileSync(join(tmp.dir, copies[0]), "utf8")).toContain(clientKey);

  expect(pulumiOk(["preview", "--diff"], inProject)).toMatch(/Resources:\s+\d+ unchanged/);
  pulumiOk(["destroy", "--yes"], inProject);
  expect(await listSeldonDeployments(namespace)).toEqual([]);
  pulumiOk(["stack", "rm", "--yes"], inProject);
});
