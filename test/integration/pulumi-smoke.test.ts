// Proves the Pulumi CLI, the Kubernetes resource plugin and the local backend are real: preview,
// up and destroy a one-Namespace stack and check the cluster through the Kubernetes API.
import { randomBytes } from "node:crypto";
import { core } from "../support/cluster";
import { compiled, pulumiWorkDir, runPulumi } from "../support/pulumi";

test("pulumi preview, up and destroy of a Namespace against the testbed", async () => {
  const namespace = `pulumi-smoke-${randomBytes(3).toString("hex")}`;
  const options = {
    stack: `smoke-${randomBytes(3).toString("hex")}`,
    workDir: pulumiWorkDir("testbed-smoke"),
    program: compiled("test/fixtures/namespace-program.js"),
    env: { SMOKE_NAMESPACE: namespace },
  };
  const preview = runPulumi("preview", options);
  expect(preview.output).toMatch(/\+\s+.*kubernetes:core\/v1:Namespace/);
  expect(preview.code).toBe(0);
  await expect(core().readNamespace({ name: namespace })).rejects.toThrow();

  const up = runPulumi("up", options);
  expect(up.code).toBe(0);
  const created = await core().readNamespace({ name: namespace });
  expect(created.metadata?.name).toBe(namespace);

  const destroy = runPulumi("destroy", options);
  expect(destroy.code).toBe(0);
  // No controller-manager runs here: the namespace is either gone or Terminating.
  const after = await core()
    .readNamespace({ name: namespace })
    .catch(() => undefined);
  expect(after === undefined || after.status?.phase === "Terminating").toBe(true);
});
