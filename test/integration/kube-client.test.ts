// The engine's Kubernetes client against the testbed's API server: exec-plugin credentials (as
// EKS, GKE and AKS kubeconfigs provide them) fetched once and again when expired, a token file,
// impersonation, a proxy, a revoked credential fetched again after a 401, and lists read in pages.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { kubeClient, ServingObjectStore } from "../../engine/apply/store";
import { TARGETS } from "../../engine/serving-targets";
import { ClusterError } from "../../engine/errors";
import { ownerLabels, ownerSelector } from "../../engine/inventory";
import {
  adminUpstream,
  core as coreApi,
  createForeignSeldonDeployment,
  freshNamespace,
  kubeconfigVia,
  serviceAccountToken,
  serviceAccountWithRole,
} from "../support/cluster";
import { startConnectProxy } from "../support/connect-proxy";
import { HttpFaultProxy } from "../support/http-proxy";

interface Kubeconfig {
  clusters: { name: string; cluster: Record<string, string> }[];
  users: { name: string; user: Record<string, string> }[];
}

/** The folders of the kubeconfigs written here: they hold credentials, removed after the tests. */
const folders: string[] = [];
afterAll(() => folders.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** A kubeconfig for the testbed's cluster with another user, written into its own folder. */
function kubeconfigWith(user: Record<string, string | unknown>, cluster: Record<string, unknown> = {}) {
  const testbed = parse(readFileSync(process.env.KUBECONFIG!, "utf8")) as Kubeconfig;
  const dir = mkdtempSync(join(tmpdir(), "kubeconfig-"));
  folders.push(dir);
  const file = join(dir, "config");
  writeFileSync(
    file,
    stringify({
      "current-context": "t",
      clusters: [{ name: "c", cluster: { ...testbed.clusters[0].cluster, ...cluster } }],
      users: [{ name: "u", user }],
      contexts: [{ name: "t", context: { cluster: "c", user: "u" } }],
    }),
  );
  return { dir, file, admin: testbed.users[0].user };
}

/**
 * A kubeconfig whose user is an exec plugin handing out the testbed admin's client certificate,
 * valid for `validMs`; the plugin appends its KUBERNETES_EXEC_INFO to `calls` at each run.
 */
function execPluginKubeconfig(validMs: number) {
  const { dir, file: kubeconfig, admin } = kubeconfigWith({});
  const calls = join(dir, "calls");
  writeFileSync(calls, "");
  const credential = {
    apiVersion: "client.authentication.k8s.io/v1",
    kind: "ExecCredential",
    status: {
      clientCertificateData: Buffer.from(admin["client-certificate-data"], "base64").toString(),
      clientKeyData: Buffer.from(admin["client-key-data"], "base64").toString(),
      expirationTimestamp: new Date(Date.now() + validMs).toISOString(),
    },
  };
  writeFileSync(join(dir, "credential.json"), JSON.stringify(credential));
  const plugin = join(dir, "plugin.sh");
  writeFileSync(
    plugin,
    `#!/bin/sh\necho "$KUBERNETES_EXEC_INFO" >> ${calls}\ncat ${join(dir, "credential.json")}\n`,
  );
  chmodSync(plugin, 0o755);
  const config = parse(readFileSync(kubeconfig, "utf8"));
  config.users[0].user = { exec: { apiVersion: "client.authentication.k8s.io/v1", command: plugin } };
  writeFileSync(kubeconfig, stringify(config));
  return { calls, kubeconfig };
}

test("credentials from an exec plugin reach the API server, and the plugin runs once", async () => {
  const namespace = await freshNamespace("kube-client");
  const { calls, kubeconfig } = execPluginKubeconfig(3_600_000);
  const store = new ServingObjectStore(kubeClient({ kubeconfig }), TARGETS["seldon-v1"], "exec-test");
  expect(await store.list(namespace)).toEqual([]);
  expect(await store.get(namespace, "absent")).toBeUndefined();
  const invocations = readFileSync(calls, "utf8").trim().split("\n");
  expect(invocations).toHaveLength(1);
  expect(JSON.parse(invocations[0])).toMatchObject({ kind: "ExecCredential", spec: { interactive: false } });
});

test("a kubeconfig proxy-url tunnels every request through the proxy, on kept-alive connections", async () => {
  const namespace = await freshNamespace("kube-proxy");
  const proxy = await startConnectProxy();
  try {
    const { admin } = kubeconfigWith({});
    const { file } = kubeconfigWith(admin, { "proxy-url": proxy.url });
    const store = new ServingObjectStore(
      kubeClient({ kubeconfig: file }),
      TARGETS["seldon-v1"],
      "proxy-test",
    );
    for (let i = 0; i < 5; i++) expect(await store.list(namespace)).toEqual([]);
    expect(proxy.tunnels.length).toBeGreaterThanOrEqual(1);
    expect(proxy.tunnels.length).toBeLessThan(5);
    expect(proxy.tunnels[0]).toBe(new URL(parse(readFileSync(file, "utf8")).clusters[0].cluster.server).host);
  } finally {
    await proxy.close();
  }
});

test("a token file relative to the kubeconfig's folder authenticates; impersonation is sent", async () => {
  const namespace = await freshNamespace("kube-token");
  const core = coreApi();
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: "reader" } } });
  const token = await core.createNamespacedServiceAccountToken({
    name: "reader",
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 600 } },
  });
  const { dir, file } = kubeconfigWith({ tokenFile: "token" });
  writeFileSync(join(dir, "token"), token.status!.token!);
  // Authenticated as the service account, which may not list SeldonDeployments: 403, not 401.
  const store = new ServingObjectStore(kubeClient({ kubeconfig: file }), TARGETS["seldon-v1"], "token-test");
  await expect(store.list(namespace)).rejects.toThrow(/HTTP 403.*system:serviceaccount:.*:reader/);

  // The admin impersonating that service account gets the same refusal, naming it.
  const { file: impersonating, admin } = kubeconfigWith({});
  const config = parse(readFileSync(impersonating, "utf8"));
  config.users[0].user = {
    ...admin,
    as: `system:serviceaccount:${namespace}:reader`,
    "as-groups": ["system:serviceaccounts"],
  };
  writeFileSync(impersonating, stringify(config));
  const asReader = new ServingObjectStore(
    kubeClient({ kubeconfig: impersonating }),
    TARGETS["seldon-v1"],
    "as-test",
  );
  await expect(asReader.list(namespace)).rejects.toThrow(/HTTP 403.*system:serviceaccount:.*:reader/);
});

test("an exec credential that expired is fetched again before the next request", async () => {
  const namespace = await freshNamespace("kube-exec-expiry");
  // Already inside the refresh margin: every request needs a new credential.
  const { calls, kubeconfig } = execPluginKubeconfig(5_000);
  const store = new ServingObjectStore(kubeClient({ kubeconfig }), TARGETS["seldon-v1"], "expiry-test");
  await store.list(namespace);
  await store.list(namespace);
  expect(readFileSync(calls, "utf8").trim().split("\n")).toHaveLength(2);
});

test("a revoked exec credential (401) is fetched again once, and the request then succeeds", async () => {
  const namespace = await freshNamespace("kube-exec-401");
  await serviceAccountWithRole(namespace, "reader", [
    { apiGroups: ["machinelearning.seldon.io"], resources: ["seldondeployments"], verbs: ["list"] },
  ]);
  // An exec plugin handing out a token without expiry, read from a file a test can swap.
  const { dir, file: kubeconfig } = kubeconfigWith({});
  const [tokenFile, calls] = [join(dir, "token"), join(dir, "calls")];
  writeFileSync(tokenFile, await serviceAccountToken(namespace, "reader", "first-credential"));
  writeFileSync(calls, "");
  const plugin = join(dir, "plugin.sh");
  writeFileSync(
    plugin,
    `#!/bin/sh\necho run >> ${calls}\nprintf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}' "$(cat ${tokenFile})"\n`,
  );
  chmodSync(plugin, 0o755);
  const config = parse(readFileSync(kubeconfig, "utf8"));
  config.users[0].user = { exec: { apiVersion: "client.authentication.k8s.io/v1", command: plugin } };
  writeFileSync(kubeconfig, stringify(config));
  const store = new ServingObjectStore(kubeClient({ kubeconfig }), TARGETS["seldon-v1"], "exec-401-test");
  expect(await store.list(namespace)).toEqual([]);

  // Deleting the Secret the token is bound to revokes it; the plugin now has a new one.
  await coreApi().deleteNamespacedSecret({ namespace, name: "first-credential" });
  const revoked = new ServingObjectStore(
    kubeClient({ kubeconfig: kubeconfigWith({ token: readFileSync(tokenFile, "utf8") }).file }),
    TARGETS["seldon-v1"],
    "revoked",
  );
  for (
    let i = 0;
    i < 50 &&
    (await revoked.list(namespace).then(
      () => true,
      () => false,
    ));
    i++
  )
    await new Promise((resolve) => setTimeout(resolve, 200));
  await expect(revoked.list(namespace)).rejects.toThrow(/HTTP 401/);
  writeFileSync(tokenFile, await serviceAccountToken(namespace, "reader"));

  expect(await store.list(namespace)).toEqual([]);
  expect(readFileSync(calls, "utf8").trim().split("\n")).toHaveLength(2);
});

test("the owner's objects are listed in pages, without managedFields; a continuation the server no longer has (410) lists again from the first page, once; a refused page fails the whole list", async () => {
  const namespace = await freshNamespace("kube-pages");
  const owner = "paged";
  const names = ["a", "b", "c", "d", "e"].map((x) => `paged-${x}`);
  for (const name of names) await createForeignSeldonDeployment(namespace, name, ownerLabels(owner));
  await createForeignSeldonDeployment(namespace, "someone-elses");
  const proxy = new HttpFaultProxy(adminUpstream());
  const url = await proxy.start();
  // Pages of two instead of the store's 500: five objects take three pages.
  proxy.adjust = (target) => {
    if (target.searchParams.has("limit")) target.searchParams.set("limit", "2");
  };
  let continuationAnswer: { status: number; reason: string } | undefined;
  let answersLeft = 0;
  proxy.decide = (r) => {
    if (!r.query.has("continue") || !continuationAnswer || answersLeft-- <= 0) return { kind: "pass" };
    const { status, reason } = continuationAnswer;
    return {
      kind: "respond",
      status,
      body: { kind: "Status", apiVersion: "v1", status: "Failure", reason, code: status, message: reason },
    };
  };
  const requests: string[] = [];
  const store = new ServingObjectStore(
    kubeClient({ kubeconfig: kubeconfigVia(url) }),
    TARGETS["seldon-v1"],
    "paged",
    {
      onRequest: (verb) => requests.push(verb),
    },
  );
  const listedNames = async () => {
    requests.length = 0;
    const { items, resourceVersion } = await store.listAt(namespace, ownerSelector(owner));
    expect(resourceVersion).toMatch(/^\d+$/);
    expect(items.filter((o) => "managedFields" in o.metadata)).toEqual([]);
    return items.map((o) => o.metadata.name).sort();
  };
  try {
    expect(await listedNames()).toEqual(names);
    expect(requests).toEqual(["list", "list", "list"]);
    expect(proxy.forwarded.map((f) => f.query.get("limit"))).toEqual(["500", "500", "500"]);

    // The second page's continuation expired (etcd compacted its revision): listed again, nothing twice.
    continuationAnswer = { status: 410, reason: "Expired" };
    answersLeft = 1;
    expect(await listedNames()).toEqual(names);
    expect(requests).toHaveLength(5);

    // Expired again on the second try: the list fails rather than looping.
    answersLeft = 2;
    await expect(store.listAt(namespace, ownerSelector(owner))).rejects.toMatchObject({ status: 410 });

    // Any other refusal of a page fails the whole list: a cycle never sees part of the owner's objects.
    continuationAnswer = { status: 403, reason: "Forbidden" };
    answersLeft = 1;
    const refused = await store.listAt(namespace, ownerSelector(owner)).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ClusterError);
    expect(refused).toMatchObject({ status: 403 });
  } finally {
    await proxy.stop();
  }
});
