// Every bad input at start-up ends with exit 2 and lines naming the setting and what is expected,
// never a stack trace: the real command, as a container or a CronJob starts it.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../support/pulumi";
import { repoRoot } from "../support/testbed-env";

const files = mkdtempSync(join(tmpdir(), "m2s-startup-"));
const file = (name: string, text: string) => (writeFileSync(join(files, name), text), join(files, name));
const kubeconfig = (user: string, extra = "") =>
  file(
    `kubeconfig-${Math.random().toString(36).slice(2)}`,
    `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\n` +
      `users: [{name: u, user: ${user}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n${extra}`,
  );
const valid = { M2S_MLFLOW_HOST: "http://127.0.0.1:9", M2S_HTTP_PORT: "0" };

const cases: [string, Record<string, string | undefined>, string, RegExp][] = [
  [
    "no MLflow URL",
    { M2S_MLFLOW_HOST: undefined, MLFLOW_TRACKING_URI: undefined },
    "M2S_MLFLOW_HOST",
    /required/,
  ],
  ["an ftp URL", { M2S_MLFLOW_HOST: "ftp://x" }, "M2S_MLFLOW_HOST", /http\(s\) URL/],
  [
    "an ftp tracking URI",
    { M2S_MLFLOW_HOST: undefined, MLFLOW_TRACKING_URI: "ftp://x" },
    "MLFLOW_TRACKING_URI",
    /http\(s\) URL/,
  ],
  ["a URL that is not one", { M2S_MLFLOW_HOST: "http://" }, "M2S_MLFLOW_HOST", /URL/],
  ["credentials in the URL", { M2S_MLFLOW_HOST: "http://user:pw@127.0.0.1:9" }, "MLflow URL", /credentials/],
  ["a missing CA file", { M2S_MLFLOW_CA_FILE: "/nonexistent/ca.pem" }, "M2S_MLFLOW_CA_FILE", /readable file/],
  [
    "a missing MLflow cert path",
    { MLFLOW_TRACKING_SERVER_CERT_PATH: "/nonexistent" },
    "MLFLOW_TRACKING_SERVER_CERT_PATH",
    /readable file/,
  ],
  ["a missing kubeconfig", { KUBECONFIG: "/nonexistent" }, "KUBECONFIG", /no such file/],
  [
    "a kubeconfig that is not YAML",
    { KUBECONFIG: file("bad.yaml", "clusters: [unclosed") },
    "bad.yaml",
    /not a YAML or JSON kubeconfig/,
  ],
  [
    "a kubeconfig user with auth-provider",
    { KUBECONFIG: kubeconfig("{auth-provider: {name: gcp}}") },
    "kubeconfig",
    /auth-provider is not supported/,
  ],
  [
    "an unknown kubeconfig context",
    { KUBECONFIG: kubeconfig("{token: t}"), M2S_KUBE_CONTEXT: "nope" },
    "kubeconfig",
    /context "nope" not found/,
  ],
  [
    "a kubeconfig server that is not a URL",
    { KUBECONFIG: file("server.yaml", "clusters: [{name: c, cluster: {server: nope}}]\n") },
    "server.yaml",
    /clusters\.0\.cluster\.server/,
  ],
  [
    "a missing client certificate file",
    { KUBECONFIG: kubeconfig("{client-certificate: missing.crt}") },
    "client-certificate",
    /cannot read/,
  ],
  ["negative replicas", { M2S_REPLICAS: "-1" }, "M2S_REPLICAS", /-1/],
  ["replicas that are not a number", { M2S_REPLICAS: "two" }, "M2S_REPLICAS", /two|number/],
  ["an unknown serving mode", { M2S_SERVING_MODE: "magic" }, "M2S_SERVING_MODE", /magic/],
  ["an unknown protocol", { M2S_PROTOCOL: "grpc-web" }, "M2S_PROTOCOL", /grpc-web/],
  ["resources that are not JSON", { M2S_RESOURCES: "{cpu" }, "M2S_RESOURCES", /JSON/],
  [
    "resources with a bad quantity",
    { M2S_RESOURCES: '{"limits":{"cpu":"lots"}}' },
    "M2S_RESOURCES",
    /quantity/,
  ],
  [
    "a namespace that is not a DNS label",
    { M2S_SELDON_DEPLOYMENT_NS: "Models_NS" },
    "M2S_SELDON_DEPLOYMENT_NS",
    /DNS-1123/,
  ],
  [
    "a storage claim that is not a DNS label",
    { M2S_MLFLOW_STORAGE_CLAIM: "My Claim" },
    "M2S_MLFLOW_STORAGE_CLAIM",
    /DNS-1123/,
  ],
  [
    "an interval that is not a number",
    { M2S_SYNC_INTERVAL_SECONDS: "soon" },
    "M2S_SYNC_INTERVAL_SECONDS",
    /soon/,
  ],
  ["jitter above 1", { M2S_SYNC_JITTER: "2" }, "M2S_SYNC_JITTER", /2/],
  ["a negative delta poll period", { M2S_DELTA_POLL_SECONDS: "-1" }, "M2S_DELTA_POLL_SECONDS", /-1/],
  ["a webhook secret too short to sign with", { M2S_WEBHOOK_SECRET: "abc" }, "M2S_WEBHOOK_SECRET", /16/],
  [
    "a webhook URL without its secret",
    { M2S_WEBHOOK_URL: "http://mlflow2seldon:8080/webhooks/mlflow" },
    "M2S_WEBHOOK_URL",
    /M2S_WEBHOOK_SECRET/,
  ],
  ["a port out of range", { M2S_HTTP_PORT: "70000" }, "M2S_HTTP_PORT", /70000/],
  ["an unknown log level", { M2S_LOG_LEVEL: "loud" }, "M2S_LOG_LEVEL", /loud/],
  ["write-back that is not a flag", { M2S_WRITE_BACK: "maybe" }, "M2S_WRITE_BACK", /true or false/],
  ["an owner that is not a label value", { M2S_OWNER: "team a!" }, "M2S_OWNER", /label value/],
];

test.each(cases)("%s: exit 2 naming the setting, no stack trace", (_name, env, setting, expected) => {
  const result = run(process.execPath, [join(repoRoot, "bin", "mlflow2seldon.js"), "sync", "--once"], {
    env: { KUBECONFIG: kubeconfig("{token: t}"), ...valid, ...env },
  });
  expect(result.code).toBe(2);
  expect(result.output).toContain("mlflow2seldon: invalid configuration");
  const line = result.output.split("\n").find((l) => l.includes(setting));
  expect(line).toMatch(expected);
  expect(result.output).not.toMatch(/\n\s+at .+:\d+:\d+/);
});

test("--help and help print the commands and exit 0; an unknown command is a usage error", () => {
  for (const args of [["--help"], ["help"], ["sync", "--help"]]) {
    const result = run(process.execPath, [join(repoRoot, "bin", "mlflow2seldon.js"), ...args]);
    expect(result.code).toBe(0);
    expect(result.output).toContain("sync --once");
  }
  const unknown = run(process.execPath, [join(repoRoot, "bin", "mlflow2seldon.js"), "deploy"]);
  expect(unknown.code).toBe(2);
  expect(unknown.output).toContain("usage: mlflow2seldon");
});
