// Where the Kubernetes API is and how to authenticate, from a kubeconfig (KUBECONFIG, a path
// list, or ~/.kube/config) or from the pod's service account, in client-go's order. The file is
// validated with zod; every problem names the file and the field.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, isAbsolute, join } from "node:path";
import { parse } from "yaml";
import { z } from "zod";
import { ConfigError } from "../errors";

const execSchema = z.object({
  command: z.string().min(1),
  args: z.array(z.string()).nullish(),
  env: z.array(z.object({ name: z.string(), value: z.string() })).nullish(),
  apiVersion: z.string().optional(),
});

/** A kubeconfig list: named entries, missing or null when empty. */
const entries = <S extends z.ZodRawShape>(body: S) =>
  z
    .array(z.object({ name: z.string(), ...body }))
    .nullish()
    .transform((list) => list ?? []);

const kubeconfigSchema = z.object({
  "current-context": z.string().optional(),
  clusters: entries({
    cluster: z.object({
      server: z.url(),
      "certificate-authority": z.string().optional(),
      "certificate-authority-data": z.string().optional(),
      "insecure-skip-tls-verify": z.boolean().optional(),
      "tls-server-name": z.string().optional(),
      "proxy-url": z.url().optional(),
    }),
  }),
  users: entries({
    user: z.object({
      "client-certificate": z.string().optional(),
      "client-certificate-data": z.string().optional(),
      "client-key": z.string().optional(),
      "client-key-data": z.string().optional(),
      token: z.string().optional(),
      tokenFile: z.string().optional(),
      username: z.string().optional(),
      password: z.string().optional(),
      exec: execSchema.optional(),
      "auth-provider": z.unknown().optional(),
      as: z.string().optional(),
      "as-uid": z.string().optional(),
      "as-groups": z.array(z.string()).nullish(),
      "as-user-extra": z.unknown().optional(),
    }),
  }),
  contexts: entries({
    context: z.object({ cluster: z.string(), user: z.string().optional(), namespace: z.string().optional() }),
  }),
});
type Kubeconfig = z.infer<typeof kubeconfigSchema>;
export type ExecConfig = z.infer<typeof execSchema>;

/** Everything needed to reach the API server; credentials stay in here, never in messages. */
export interface KubeTarget {
  server: string;
  context: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  insecureSkipTlsVerify?: boolean;
  serverName?: string;
  /** Bearer token, read anew on each call (projected service-account tokens rotate). */
  token?: () => string;
  basic?: { username: string; password: string };
  exec?: ExecConfig;
  /** Proxy of this cluster (kubeconfig proxy-url); else HTTPS_PROXY/NO_PROXY apply. */
  proxyUrl?: string;
  impersonate?: { user?: string; uid?: string; groups?: string[] };
}

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

function fail(source: string, message: string): never {
  throw new ConfigError([{ setting: source, message }]);
}

function readKubeconfig(file: string): Kubeconfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    fail(file, `cannot read the kubeconfig: ${error instanceof Error ? error.message : String(error)}`);
  }
  return parseKubeconfig(file, text);
}

/** Validates kubeconfig text; `source` names it in errors (the content itself never appears). */
function parseKubeconfig(source: string, text: string): Kubeconfig {
  let document: unknown;
  try {
    document = parse(text);
  } catch {
    fail(source, "not a YAML or JSON kubeconfig");
  }
  const parsed = kubeconfigSchema.safeParse(document ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    fail(source, `${issue.path.join(".")}: ${issue.message}`);
  }
  return parsed.data;
}

/** client-go's merge of a path list: the first file that names an entry (or current-context) wins. */
function mergeKubeconfigs(documents: { file: string; config: Kubeconfig }[]): {
  config: Kubeconfig;
  dirOf: Map<object, string>;
} {
  const config: Kubeconfig = { clusters: [], users: [], contexts: [] };
  const dirOf = new Map<object, string>();
  for (const { file, config: next } of documents) {
    config["current-context"] ??= next["current-context"];
    for (const key of ["clusters", "users", "contexts"] as const) {
      const list = config[key] as { name: string }[];
      for (const entry of next[key] as { name: string }[]) {
        if (list.some((e) => e.name === entry.name)) continue;
        list.push(entry);
        dirOf.set(entry, dirname(file));
      }
    }
  }
  return { config, dirOf };
}

function fromKubeconfig(
  source: string,
  documents: { file: string; config: Kubeconfig }[],
  contextName?: string,
): KubeTarget {
  const { config, dirOf } = mergeKubeconfigs(documents);
  const name = contextName ?? config["current-context"];
  if (!name) fail(source, "no current-context and no context chosen");
  const context = config.contexts.find((c) => c.name === name);
  if (!context) fail(source, `context "${name}" not found`);
  const cluster = config.clusters.find((c) => c.name === context.context.cluster);
  if (!cluster) fail(source, `cluster "${context.context.cluster}" of context "${name}" not found`);
  const user = config.users.find((u) => u.name === context.context.user);
  const u = user?.user ?? {};
  const c = cluster.cluster;
  // Relative paths in a kubeconfig are relative to the file that holds the entry (as client-go).
  const resolvePath = (entry: object, path: string) =>
    isAbsolute(path) ? path : join(dirOf.get(entry) ?? ".", path);
  const fileOrData = (entry: object, field: string, path: string | undefined, data: string | undefined) => {
    if (data) return Buffer.from(data, "base64");
    if (!path) return undefined;
    const file = resolvePath(entry, path);
    try {
      return readFileSync(file);
    } catch {
      return fail(source, `${field}: cannot read ${file}`);
    }
  };
  if (u["auth-provider"])
    fail(source, `user "${context.context.user}": auth-provider is not supported, use exec`);
  if (u["as-user-extra"]) fail(source, `user "${context.context.user}": as-user-extra is not supported`);
  const tokenFile = user && u.tokenFile ? resolvePath(user, u.tokenFile) : undefined;
  return {
    server: c.server,
    context: name,
    ca: fileOrData(
      cluster,
      "certificate-authority",
      c["certificate-authority"],
      c["certificate-authority-data"],
    ),
    cert:
      user && fileOrData(user, "client-certificate", u["client-certificate"], u["client-certificate-data"]),
    key: user && fileOrData(user, "client-key", u["client-key"], u["client-key-data"]),
    insecureSkipTlsVerify: c["insecure-skip-tls-verify"],
    serverName: c["tls-server-name"],
    token: u.token ? () => u.token! : tokenFile ? () => readFileSync(tokenFile, "utf8").trim() : undefined,
    basic: u.username ? { username: u.username, password: u.password ?? "" } : undefined,
    exec: u.exec,
    proxyUrl: c["proxy-url"],
    impersonate:
      u.as || u["as-uid"] || u["as-groups"]?.length
        ? { user: u.as, uid: u["as-uid"], groups: u["as-groups"] ?? undefined }
        : undefined,
  };
}

function inCluster(env: NodeJS.ProcessEnv): KubeTarget {
  const host = env.KUBERNETES_SERVICE_HOST!;
  const port = env.KUBERNETES_SERVICE_PORT ?? "443";
  return {
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    context: "in-cluster",
    ca: readFileSync(join(SERVICE_ACCOUNT_DIR, "ca.crt")),
    token: () => readFileSync(join(SERVICE_ACCOUNT_DIR, "token"), "utf8").trim(),
  };
}

export interface KubeTargetOptions {
  /** A kubeconfig file. */
  kubeconfig?: string;
  /** kubeconfig content (YAML or JSON), used instead of any file. */
  kubeconfigContent?: string;
  /** Overrides current-context. */
  context?: string;
}

/**
 * The API server to use: `kubeconfigContent` if given, else `kubeconfig` if given, else $KUBECONFIG (a path list), else
 * ~/.kube/config, else the pod's service account. `context` overrides current-context.
 */
export function loadKubeTarget(
  options: KubeTargetOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): KubeTarget {
  const fromFiles = (files: string[]) =>
    fromKubeconfig(
      files.join(delimiter),
      files.map((file) => ({ file, config: readKubeconfig(file) })),
      options.context,
    );
  if (options.kubeconfigContent !== undefined) {
    // Relative file references in given content resolve against the working directory.
    const source = "kubeconfig content";
    const config = parseKubeconfig(source, options.kubeconfigContent);
    return fromKubeconfig(source, [{ file: join(process.cwd(), "kubeconfig"), config }], options.context);
  }
  if (options.kubeconfig) return fromFiles([options.kubeconfig]);
  const listed = (env.KUBECONFIG ?? "").split(delimiter).filter(Boolean);
  const files = listed.filter((f) => existsSync(f));
  if (listed.length > 0 && files.length === 0) fail("KUBECONFIG", `no such file: ${env.KUBECONFIG}`);
  if (files.length > 0) return fromFiles(files);
  const home = join(env.HOME ?? homedir(), ".kube", "config");
  if (existsSync(home)) return fromFiles([home]);
  if (env.KUBERNETES_SERVICE_HOST) return inCluster(env);
  return fail("KUBECONFIG", "no kubeconfig found (~/.kube/config) and not running in a cluster");
}
