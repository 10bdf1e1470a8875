// Runs the Pulumi program with the Pulumi CLI through the Automation API: the program runs in
// this process and the CLI (preview, up, destroy, refresh) connects to it, so no separate
// Node.js language-host binary is needed. `make deploy|preview|destroy` call this.
//   node dist/deploy/cli.js <preview|up|destroy|refresh> [--stack dev] [--policy-pack DIR]
//                           [--work-dir DIR] [--program FILE]
import { LocalWorkspace, type PulumiFn } from "@pulumi/pulumi/automation";
import { parseArgs } from "node:util";
import { resolve } from "node:path";

const root = resolve(__dirname, "..", "..");
const USAGE =
  "usage: cli.js <preview|up|destroy|refresh> [--stack NAME] [--policy-pack DIR] [--work-dir DIR] [--program FILE]";

export async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      stack: { type: "string", default: process.env.PULUMI_STACK ?? "dev" },
      "policy-pack": { type: "string", multiple: true, default: [] },
      "work-dir": { type: "string", default: root },
      program: { type: "string", default: resolve(root, "dist", "index.js") },
      "expect-no-changes": { type: "boolean", default: false },
    },
  });
  const [operation] = positionals;
  if (!["preview", "up", "destroy", "refresh"].includes(operation ?? "")) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const program = require(resolve(values.program)) as PulumiFn;
  const workDir = resolve(values["work-dir"]);
  const stack = await LocalWorkspace.createOrSelectStack(
    { stackName: values.stack, projectName: await projectName(workDir), program },
    { workDir },
  );
  const onOutput = (text: string) => process.stdout.write(text);
  // The CLI's diagnostics (program errors included) arrive on its stderr.
  const onError = (text: string) => process.stderr.write(text);
  const policyPacks = values["policy-pack"].map((p) => resolve(p));
  switch (operation) {
    case "preview":
      await stack.preview({
        onOutput,
        onError,
        diff: true,
        suppressProgress: true,
        policyPacks,
        expectNoChanges: values["expect-no-changes"],
      });
      break;
    case "up":
      await stack.up({ onOutput, onError, policyPacks, suppressProgress: true });
      break;
    case "destroy":
      await stack.destroy({ onOutput, onError, suppressProgress: true });
      break;
    case "refresh":
      await stack.refresh({ onOutput, onError, suppressProgress: true });
      break;
  }
  return 0;
}

async function projectName(workDir: string): Promise<string> {
  const workspace = await LocalWorkspace.create({ workDir });
  const settings = await workspace.projectSettings();
  return settings.name;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      // The CLI already printed its output and diagnostics; anything else failed before it ran.
      const isCliFailure = error instanceof Error && error.name === "CommandError";
      process.stderr.write(
        isCliFailure ? "\nthe pulumi command failed: see the diagnostics above\n" : `\n${String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
