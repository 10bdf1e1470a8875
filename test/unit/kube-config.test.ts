import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { stringify } from "yaml";
import { ConfigError } from "../../engine/errors";
import { loadKubeTarget } from "../../engine/kube/config";

const dir = mkdtempSync(join(tmpdir(), "kubeconfig-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function kubeconfig(file: string, document: unknown): string {
  const path = join(dir, file);
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, typeof document === "string" ? document : stringify(document));
  return path;
}

const first = kubeconfig("a/config", {
  "current-context": "dev",
  clusters: [
    { name: "dev", cluster: { server: "https://dev.example:6443", "certificate-authority": "ca.pem" } },
  ],
  users: [
    {
      name: "dev",
      user: { "client-certificate-data": Buffer.from("CERT").toString("base64"), "client-key": "key.pem" },
    },
  ],
  contexts: [{ name: "dev", context: { cluster: "dev", user: "dev" } }],
});
const second = kubeconfig("b/config", {
  "current-context": "prod",
  clusters: [
    { name: "dev", cluster: { server: "https://shadowed.example" } },
    { name: "prod", cluster: { server: "https://prod.example" } },
  ],
  users: [{ name: "prod", user: { token: "s3cr3t" } }],
  contexts: [{ name: "prod", context: { cluster: "prod", user: "prod" } }],
});
writeFileSync(join(dir, "a", "ca.pem"), "CA");
writeFileSync(join(dir, "a", "key.pem"), "KEY");

test("a KUBECONFIG path list merges like client-go: the first file naming an entry wins", () => {
  const target = loadKubeTarget({}, { KUBECONFIG: [first, second].join(delimiter) });
  expect(target).toMatchObject({ context: "dev", server: "https://dev.example:6443" });
  // Relative paths are read next to the file that names them.
  expect(target.ca?.toString()).toBe("CA");
  expect(target.cert?.toString()).toBe("CERT");
  expect(target.key?.toString()).toBe("KEY");
});

test("a chosen context overrides current-context and brings its user's token", () => {
  const target = loadKubeTarget({ context: "prod" }, { KUBECONFIG: [first, second].join(delimiter) });
  expect(target.server).toBe("https://prod.example");
  expect(target.token?.()).toBe("s3cr3t");
});

test("problems name the file and the field, never a credential", () => {
  const expectProblem = (env: NodeJS.ProcessEnv, options: { context?: string }, pattern: RegExp) => {
    let error: unknown;
    try {
      loadKubeTarget(options, env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(pattern);
    expect((error as Error).message).not.toContain("s3cr3t");
  };
  expectProblem({ KUBECONFIG: second }, { context: "staging" }, /b\/config.*context "staging" not found/);
  expectProblem({ KUBECONFIG: join(dir, "missing") }, {}, /KUBECONFIG: no such file/);
  const broken = kubeconfig("broken", { clusters: [{ name: "x", cluster: { server: "not a url" } }] });
  expectProblem({ KUBECONFIG: broken }, {}, /broken: clusters\.0\.cluster\.server/);
  const legacy = kubeconfig("legacy", {
    "current-context": "gke",
    clusters: [{ name: "gke", cluster: { server: "https://gke.example" } }],
    users: [{ name: "gke", user: { "auth-provider": { name: "gcp" } } }],
    contexts: [{ name: "gke", context: { cluster: "gke", user: "gke" } }],
  });
  expectProblem({ KUBECONFIG: legacy }, {}, /auth-provider is not supported, use exec/);
  expectProblem({ HOME: join(dir, "nowhere") }, {}, /no kubeconfig found/);
  const lostKey = kubeconfig("c/config", {
    "current-context": "c",
    clusters: [{ name: "c", cluster: { server: "https://c.example" } }],
    users: [{ name: "c", user: { "client-key": "gone.pem", token: "s3cr3t" } }],
    contexts: [{ name: "c", context: { cluster: "c", user: "c" } }],
  });
  expectProblem({ KUBECONFIG: lostKey }, {}, /c\/config: client-key: cannot read .*c\/gone\.pem/);
});
