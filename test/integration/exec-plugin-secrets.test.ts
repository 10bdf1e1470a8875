// A kubeconfig whose exec credential plugin fails and was given a client secret on its command
// line (as kubelogin's `--oidc-client-secret=…` is): the service reports the plugin by name and
// exit code, and the secret reaches neither its log, nor `status`, nor the status page, nor Events.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { core, freshNamespace } from "../support/cluster";
import { uniqueModelName } from "../support/mlflow";
import { serviceBin, serviceEnv, startService } from "../support/service";
import { eventually, freePort } from "../support/wait";

const SECRET = `oidc-${Math.random().toString(36).slice(2)}-client-secret`;
let dir: string;
let env: NodeJS.ProcessEnv;
let namespace: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "exec-plugin-"));
  namespace = await freshNamespace("exec-secret");
  const plugin = join(dir, "kubelogin");
  // Fails as a real OIDC plugin does, repeating its command line on stderr.
  writeFileSync(plugin, `#!/bin/sh\necho "error: oidc login failed: $0 $*" >&2\nexit 3\n`, { mode: 0o700 });
  const testbed = parse(readFileSync(process.env.KUBECONFIG!, "utf8"));
  testbed.users = [
    {
      name: testbed.users[0].name,
      user: {
        exec: {
          apiVersion: "client.authentication.k8s.io/v1",
          command: plugin,
          args: [
            "get-token",
            "--oidc-issuer-url=https://issuer.example.com",
            `--oidc-client-secret=${SECRET}`,
          ],
          interactiveMode: "Never",
        },
      },
    },
  ];
  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(kubeconfig, stringify(testbed));
  env = { ...serviceEnv(namespace, uniqueModelName("exec secret"), "exec-secret"), KUBECONFIG: kubeconfig };
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("`status` fails naming the plugin and its exit code, without the secret", () => {
  const run = spawnSync(process.execPath, [serviceBin, "status"], { env, encoding: "utf8" });
  expect(run.status).toBe(1);
  const output = run.stdout + run.stderr;
  expect(output).toContain("exec credential plugin kubelogin exited with code 3");
  expect(output).not.toContain(SECRET);
});

test("the running service's log and status page name the failure without the secret; no Event carries it", async () => {
  const statusPort = await freePort();
  const service = await startService(
    { ...env, M2S_STATUS_PORT: String(statusPort), M2S_SYNC_INTERVAL_SECONDS: "1" },
    { ready: "/healthz" },
  );
  const log = () => [...service.logs, ...service.stderr].join("\n");
  try {
    const page = await eventually("the failed cycle on the status page", async () => {
      const text = await (await fetch(`http://127.0.0.1:${statusPort}/`)).text();
      return text.includes("exec credential plugin kubelogin exited with code 3") && text;
    });
    expect(page).not.toContain(SECRET);
    expect(log()).toContain("exec credential plugin kubelogin exited with code 3");
  } finally {
    await service.stop();
  }
  expect(log()).not.toContain(SECRET);
  const events = await core().listNamespacedEvent({ namespace });
  expect(JSON.stringify(events.items)).not.toContain(SECRET);
});
