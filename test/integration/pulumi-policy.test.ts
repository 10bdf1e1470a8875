// The policy pack through the plain CLI: a mandatory violation (the service image tagged
// `latest`) makes `pulumi up --policy-pack policy` fail before anything is created.
import { randomBytes } from "node:crypto";
import { core } from "../support/cluster";
import { mlflowUrl } from "../support/mlflow";
import { pulumi, repositoryStack } from "../support/pulumi";

const id = randomBytes(3).toString("hex");
const serviceNamespace = `m2s-policy-${id}`;
const deploymentNamespace = `models-policy-${id}`;

test("pulumi up --policy-pack policy fails on a floating image tag and creates nothing", async () => {
  const stack = repositoryStack(`it-policy-${id}`, {
    mlflowUrl: mlflowUrl(),
    serviceNamespace,
    deploymentNamespace,
    serviceImage: "registry.example.com/mlflow2seldon:latest",
    snapshotModels: "false",
    skipAwait: "true",
  });
  try {
    const up = pulumi(["up", "--yes", "--policy-pack", "policy", "--stack", stack.name]);
    expect(up.code).not.toBe(0);
    expect(up.output).toContain("no-floating-image-tags");
    expect(up.output).toContain('uses the floating image "registry.example.com/mlflow2seldon:latest"');
    for (const name of [serviceNamespace, deploymentNamespace])
      await expect(core().readNamespace({ name })).rejects.toMatchObject({ code: 404 });
  } finally {
    stack.remove();
  }
});
