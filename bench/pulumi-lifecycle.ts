// A repository stack whose snapshot holds a given number of model deployments, through its whole
// lifecycle with the plain CLI from the repository root and default checkpointing: the first
// preview, the first up, no-change previews, an up after one promotion, destroy. Each command is
// timed as a person runs it, with the peak memory of its whole process tree (CLI, language host,
// program, dynamic and Kubernetes providers) and the state's size after the up.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { RegistryAdmin } from "../test/support/mlflow";
import { pulumiOk, repositoryStack } from "../test/support/pulumi";
import { repoRoot } from "../test/support/testbed-env";
import { benchModel, servedSlots } from "./dataset";
import { progress } from "./progress";

/**
 * The smallest registry whose models serve at least `deployments` slots (a model serves one to
 * three, so a few more, at most): the stack snapshots it whole (`stackModels` `*`), as a team's
 * stack does its registry.
 */
export function registryServing(deployments: number): number {
  let models = 0;
  while (servedSlots(models) < deployments) models += 1;
  return models;
}

export interface CommandFigures {
  seconds: number;
  /** Highest sum of the resident memory of the command's process tree, sampled every 100 ms. */
  peakRssBytes: number;
  /** CPU seconds of the command's processes by role (the CLI, the program, the providers). */
  cpuSeconds: Record<ProcessRole, number>;
}

export interface PulumiLifecycle {
  deployments: number;
  firstPreview: CommandFigures;
  up: CommandFigures;
  /** The state after the up (`pulumi stack export`, compact as the backend writes it), divided by the deployments. */
  stateBytesPerDeployment: number;
  /** The stack's ModelDeploymentGroups, and the state's bytes of the largest. */
  groups: { count: number; largestBytes: number };
  previews: CommandFigures[];
  /** MLflow requests of each no-change preview, from the server's access log. */
  previewMlflowRequests: number[];
  promotionUp: CommandFigures;
  destroy: CommandFigures;
}

export type ProcessRole = "cli" | "program" | "dynamic provider" | "kubernetes provider" | "other";

/** What a process of a pulumi command is, from its command line. */
function roleOf(commandLine: string): ProcessRole {
  if (commandLine.includes("cmd/dynamic-provider")) return "dynamic provider";
  if (commandLine.includes("cmd/run")) return "program";
  if (commandLine.includes("pulumi-resource-kubernetes")) return "kubernetes provider";
  if (/(^|\/)pulumi(\0|$)/.test(commandLine)) return "cli";
  return "other";
}

interface ProcessSample {
  parent: number;
  /** User and system CPU, in clock ticks (100 per second on Linux). */
  ticks: number;
  residentBytes: number;
  role: ProcessRole;
}

/** Every process's parent, CPU and memory, from /proc. */
function processTable(): Map<number, ProcessSample> {
  const table = new Map<number, ProcessSample>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command name may hold spaces: the fields after it are counted from its ")".
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      table.set(Number(entry), {
        parent: Number(fields[1]),
        ticks: Number(fields[11]) + Number(fields[12]),
        residentBytes: Number(fields[21]) * 4096,
        role: roleOf(readFileSync(`/proc/${entry}/cmdline`, "utf8")),
      });
    } catch {
      // The process ended while the table was read.
    }
  }
  return table;
}

/** Every process below `root` (itself included). */
function processTree(table: Map<number, ProcessSample>, root: number): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, p] of table) children.set(p.parent, [...(children.get(p.parent) ?? []), pid]);
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]) ?? []));
  return tree;
}

/** One plain CLI command from the repository root, timed, its process tree sampled. */
async function measured(args: string[]): Promise<CommandFigures> {
  const started = performance.now();
  const child = spawn("pulumi", args, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  let peakRssBytes = 0;
  // The last CPU seen of each process of the tree (a process's CPU is lost when it ends).
  const lastTicks = new Map<number, { role: ProcessRole; ticks: number }>();
  const sample = () => {
    const table = processTable();
    let resident = 0;
    for (const pid of processTree(table, child.pid!)) {
      const p = table.get(pid);
      if (!p) continue;
      resident += p.residentBytes;
      // An exiting process (a zombie) has no command line left: it keeps the role it was seen with.
      const seen = lastTicks.get(pid);
      lastTicks.set(pid, {
        role: p.role === "other" ? (seen?.role ?? "other") : p.role,
        ticks: Math.max(p.ticks, seen?.ticks ?? 0),
      });
    }
    peakRssBytes = Math.max(peakRssBytes, resident);
  };
  const sampler = setInterval(sample, 100);
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  clearInterval(sampler);
  if (code !== 0)
    throw new Error(`pulumi ${args.join(" ")} exited ${code}:\n${output.split("\n").slice(-40).join("\n")}`);
  const cpuSeconds: Record<ProcessRole, number> = {
    cli: 0,
    program: 0,
    "dynamic provider": 0,
    "kubernetes provider": 0,
    other: 0,
  };
  for (const { role, ticks } of lastTicks.values()) cpuSeconds[role] += ticks / 100;
  return { seconds: (performance.now() - started) / 1000, peakRssBytes, cpuSeconds };
}

interface StateResource {
  type: string;
  inputs?: unknown;
  outputs?: unknown;
}

function stateFigures(stack: string, deployments: number) {
  const exported = pulumiOk(["stack", "export", "--stack", stack]);
  const state = JSON.parse(exported.slice(0, exported.lastIndexOf("}") + 1)) as {
    deployment: { resources: StateResource[] };
  };
  const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value ?? {}));
  const groups = state.deployment.resources.filter((r) =>
    r.type.endsWith("mlflow2seldon:ModelDeploymentGroup"),
  );
  if (groups.length === 0) throw new Error(`stack ${stack} holds no ModelDeploymentGroup`);
  return {
    // Compact, as the local backend writes the file after every step (the export is indented).
    stateBytesPerDeployment: Buffer.byteLength(JSON.stringify(state)) / deployments,
    groups: { count: groups.length, largestBytes: Math.max(...groups.map(bytes)) },
  };
}

export async function pulumiLifecycle(options: {
  mlflowUrl: string;
  /** Registered models, all snapshotted by the stack. */
  registryModels: number;
  deployments: number;
  id: string;
  repetitions: number;
  /** The MLflow server's log, where it writes one access line per request. */
  mlflowLog: string;
}): Promise<PulumiLifecycle> {
  const mlflowRequestsDuring = async (action: () => Promise<CommandFigures>) => {
    const offset = statSync(options.mlflowLog).size;
    const figures = await action();
    const written = readFileSync(options.mlflowLog).subarray(offset).toString("utf8");
    return { figures, requests: written.match(/"(GET|POST) \/api\/2\.0\/mlflow\//g)?.length ?? 0 };
  };
  const stack = repositoryStack(`bench-${options.id}`, {
    mlflowUrl: options.mlflowUrl,
    deploymentNamespace: `bench-models-${options.id}`,
    serviceNamespace: `bench-m2s-${options.id}`,
    serviceImage: "registry.example.com/mlflow2seldon:0.1.0",
    wrapperImage: "registry.example.com/mlflow-wrapper:1.0",
    stackModels: JSON.stringify(["*"]),
    skipAwait: "true",
  });
  const on = (...args: string[]) => [...args, "--stack", stack.name];
  const label = `${options.deployments} deployments of a ${options.registryModels}-model registry`;
  let destroyed = false;
  try {
    progress(`pulumi preview of a stack serving ${label}`);
    const firstPreview = await measured(on("preview"));
    progress(`pulumi preview: ${firstPreview.seconds.toFixed(1)} s; pulumi up`);
    const up = await measured(on("up", "--yes"));
    const state = stateFigures(stack.name, options.deployments);
    progress(
      `pulumi up: ${up.seconds.toFixed(1)} s, ${(up.peakRssBytes / 2 ** 20).toFixed(0)} MiB; state ${state.stateBytesPerDeployment.toFixed(0)} bytes per deployment`,
    );
    const previews: CommandFigures[] = [];
    const previewMlflowRequests: number[] = [];
    for (let r = 1; r <= options.repetitions; r++) {
      const { figures, requests } = await mlflowRequestsDuring(() => measured(on("preview", "--diff")));
      previews.push(figures);
      previewMlflowRequests.push(requests);
      progress(`no-change pulumi preview ${r}/${options.repetitions}: ${figures.seconds.toFixed(1)} s`);
    }
    // Model 0 serves Production (version 2); version 3 is its Staging candidate.
    await new RegistryAdmin(options.mlflowUrl).transitionStage(benchModel(0).name, "3", "Production");
    const promotionUp = await measured(on("up", "--yes"));
    progress(`pulumi up of one promotion: ${promotionUp.seconds.toFixed(1)} s; pulumi destroy`);
    const destroy = await measured(on("destroy", "--yes"));
    destroyed = true;
    progress(`pulumi destroy: ${destroy.seconds.toFixed(1)} s`);
    return {
      deployments: options.deployments,
      firstPreview,
      up,
      ...state,
      previews,
      previewMlflowRequests,
      promotionUp,
      destroy,
    };
  } finally {
    if (!destroyed) pulumiOk(on("destroy", "--yes"), { env: { PULUMI_SKIP_CHECKPOINTS: "true" } });
    stack.remove();
  }
}
