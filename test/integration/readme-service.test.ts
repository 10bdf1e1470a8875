// The README's sync service commands, run exactly as written from the repository root, with the
// service's M2S_* settings for a namespace of this test in the environment.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { freshNamespace, listSeldonDeployments } from "../support/cluster";
import { mlflow, registerModel, uniqueModelName } from "../support/mlflow";
import { runOk } from "../support/pulumi";
import { readmeCommands, withoutComments } from "../support/readme";
import { eventually } from "../support/wait";
import { repoRoot } from "../support/testbed-env";
import { LABELS } from "../../engine/vocabulary";

const [commands] = readmeCommands("## The sync service");

test("the README shows build, help, dry-run, once, status and the loop", () => {
  expect(withoutComments(commands)).toEqual([
    "npm run build",
    "node bin/mlflow2seldon.js --help",
    "node bin/mlflow2seldon.js sync --dry-run",
    "node bin/mlflow2seldon.js sync --once",
    "node bin/mlflow2seldon.js status",
    "node bin/mlflow2seldon.js sync",
  ]);
});

test("each command works from the repository root", async () => {
  const [build, help, dryRun, once_, status, loop] = commands;
  const model = uniqueModelName("readme service");
  await registerModel(model, 1);
  await mlflow().transitionStage(model, "1", "Production");
  const namespace = await freshNamespace("readme-service");
  const env = {
    M2S_SELDON_DEPLOYMENT_NS: namespace,
    M2S_INCLUDE_MODELS: model,
    M2S_SELDON_NEURO_DEF_IMAGE: "registry.example.com/mlflow-wrapper:1.0",
    M2S_OWNER: "readme",
    M2S_HTTP_PORT: "0",
    M2S_SYNC_INTERVAL_SECONDS: "1",
  };
  const line = (text: string) => runOk("bash", ["-c", text], { env });

  line(build);
  expect(line(help)).toContain("sync --once");
  expect(line(dryRun)).toMatch(new RegExp(`create\\s+${namespace}/readme-service-[\\w-]+\\s+${model}@1`));
  expect(await listSeldonDeployments(namespace)).toEqual([]);
  line(once_);
  const [created] = await listSeldonDeployments(namespace);
  expect(created.metadata.labels[LABELS.owner]).toBe("readme");
  expect(line(status)).toMatch(new RegExp(`${model}\\s+stage:Production\\s+1\\s+1\\s+\\S+\\s+.+\\s+in sync`));

  // The loop runs until SIGTERM, then finishes its cycle and exits 0.
  const service = spawn("bash", ["-c", `exec ${loop}`], { cwd: repoRoot, env: { ...process.env, ...env } });
  let output = "";
  service.stdout.on("data", (chunk) => (output += chunk));
  service.stderr.resume();
  try {
    await eventually("the loop's first cycle", async () => output.includes('"cycle finished"'));
  } finally {
    const exited = service.exitCode === null ? once(service, "exit") : Promise.resolve([service.exitCode]);
    service.kill("SIGTERM");
    const [code] = await exited;
    expect(code).toBe(0);
  }
  expect(output).toContain("sync service stopped");
});
