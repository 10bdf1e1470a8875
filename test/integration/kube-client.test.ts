// The engine's Kubernetes client against the testbed's API server with credentials from an
// exec plugin (as EKS, GKE and AKS kubeconfigs provide them), fetched once and reused.
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { kubeClient, SeldonDeploymentStore } from "../../engine/cluster";
import { freshNamespace } from "../support/cluster";

interface Kubeconfig {
  clusters: { name: string; cluster: Record<string, string> }[];
  users: { name: string; user: Record<string, string> }[];
}

test("credentials from an exec plugin reach the API server, and the plugin runs once", async () => {
  const namespace = await freshNamespace("kube-client");
  const testbed = parse(readFileSync(process.env.KUBECONFIG!, "utf8")) as Kubeconfig;
  const admin = testbed.users[0].user;
  const dir = mkdtempSync(join(tmpdir(), "exec-plugin-"));
  const calls = join(dir, "calls");
  writeFileSync(calls, "");
  const credential = {
    apiVersion: "client.authentication.k8s.io/v1",
    kind: "ExecCredential",
    status: {
      clientCertificateData: Buffer.from(admin["client-certificate-data"], "base64").toString(),
      clientKeyData: Buffer.from(admin["client-key-data"], "base64").toString(),
      expirationTimestamp: new Date(Date.now() + 3_600_000).toISOString(),
    },
  };
  const plugin = join(dir, "plugin.sh");
  writeFileSync(
    plugin,
    `#!/bin/sh\necho "$KUBERNETES_EXEC_INFO" >> ${calls}\ncat ${join(dir, "credential.json")}\n`,
  );
  writeFileSync(join(dir, "credential.json"), JSON.stringify(credential));
  chmodSync(plugin, 0o755);
  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(
    kubeconfig,
    stringify({
      "current-context": "exec",
      clusters: testbed.clusters,
      users: [
        { name: "exec", user: { exec: { apiVersion: "client.authentication.k8s.io/v1", command: plugin } } },
      ],
      contexts: [{ name: "exec", context: { cluster: testbed.clusters[0].name, user: "exec" } }],
    }),
  );

  const store = new SeldonDeploymentStore(kubeClient({ kubeconfig }), "exec-test");
  expect(await store.list(namespace)).toEqual([]);
  expect(await store.get(namespace, "absent")).toBeUndefined();
  const invocations = readFileSync(calls, "utf8").trim().split("\n");
  expect(invocations).toHaveLength(1);
  expect(JSON.parse(invocations[0])).toMatchObject({ kind: "ExecCredential", spec: { interactive: false } });
});
