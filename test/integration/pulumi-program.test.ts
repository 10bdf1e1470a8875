// The Pulumi program with the real CLI on the testbed: service components, the registry snapshot
// as ModelDeploymentGroup resources (create, update on promotion, delete on archive), a blocking
// policy, coexistence with the sync service, and destroy.
import {
  AdmissionregistrationV1Api,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  RbacAuthorizationV1Api,
} from "@kubernetes/client-node";
import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MODEL_TAGS } from "../../engine/plan/planner";
import {
  customObjects,
  editObject,
  eventsRecordedFor,
  freshNamespace,
  kubeConfig,
  kubeconfigWithToken,
  listSeldonDeployments,
  seldon,
  writtenContent,
} from "../support/cluster";
import { mlflow, mlflowUrl, registerModel, versionRequestsDuring } from "../support/mlflow";
import { privateTmpdir, pulumi, pulumiOk, repositoryStack, run } from "../support/pulumi";
import { serviceBin, startService } from "../support/service";
import { syncFixture } from "../support/sync";
import { repoRoot } from "../support/testbed-env";
import { eventually, freePort } from "../support/wait";
import { LABELS, ANNOTATIONS } from "../../engine/vocabulary";

const id = randomBytes(3).toString("hex");
const stack = `it-${id}`;
const owner = `stack-${stack}`;
/** The owner the program gives the service it deploys. */
const serviceOwner = `service-${stack}`;
const deploymentNamespace = `models-${id}`;
const serviceNamespace = `m2s-${id}`;
const prefix = `pulumi model ${id}`;
const stackModel = `${prefix} stack`;
const serviceModel = `${prefix} service`;
const TOKEN = `tok-${randomBytes(8).toString("hex")}`;
const config: Record<string, string> = {
  mlflowUrl: mlflowUrl(),
  deploymentNamespace,
  serviceNamespace,
  serviceImage: "registry.example.com/mlflow2seldon:0.1.0",
  wrapperImage: "registry.example.com/mlflow-wrapper:1.0",
  stackModels: JSON.stringify([`${stackModel}*`]),
  skipAwait: "true",
};
let repoStack: ReturnType<typeof repositoryStack>;
/** The ClusterRole `clusterWideRbac` gives the service (destroy must remove it). */
let clusterRoleName = "";
const tmp = privateTmpdir("pulumi-program");

/** The plain CLI from the repository root, as the README shows it. */
const cli = (command: "preview" | "preview --diff" | "up --yes" | "refresh --yes" | "destroy --yes") =>
  pulumiOk([...command.split(" "), "--stack", stack]);

const stackObjects = async () =>
  (await listSeldonDeployments(deploymentNamespace)).filter(
    (o) => o.metadata.labels?.[LABELS.owner] === owner,
  );

beforeAll(async () => {
  await registerModel(stackModel, 2);
  await registerModel(serviceModel, 1);
  await mlflow().transitionStage(stackModel, "1", "Production");
  await mlflow().transitionStage(serviceModel, "1", "Production");
  repoStack = repositoryStack(stack, config, { mlflowToken: TOKEN });
});

afterAll(() => {
  repoStack?.remove();
  tmp.remove();
});

test("pulumi up creates the service objects and one SeldonDeployment per promoted version", async () => {
  let up = "";
  const asked = versionRequestsDuring(stackModel, () => (up = cli("up --yes")));
  expect(up).toContain("mlflow2seldon:index:SyncService");
  // Nothing serves the version yet: its location is read from MLflow, once by each run of the
  // program (`up` runs it for its preview, then for the update).
  expect(asked.filter((line) => line.includes("get-download-uri"))).toHaveLength(2);

  const kc = kubeConfig();
  const deployment = await kc
    .makeApiClient(AppsV1Api)
    .readNamespacedDeployment({ name: "mlflow2seldon", namespace: serviceNamespace });
  const container = deployment.spec!.template.spec!.containers[0];
  expect(container.image).toBe(config.serviceImage);
  expect(container.env).toContainEqual({ name: "M2S_MLFLOW_HOST", value: mlflowUrl() });
  expect(container.env).toContainEqual({ name: "M2S_EXCLUDE_MODELS", value: `${stackModel}*` });
  expect(container.readinessProbe?.httpGet?.path).toBe("/readyz");
  expect(container.securityContext?.readOnlyRootFilesystem).toBe(true);
  const role = await kc
    .makeApiClient(RbacAuthorizationV1Api)
    .readNamespacedRole({ name: "mlflow2seldon", namespace: deploymentNamespace });
  expect(role.rules?.[0].resources).toEqual(["seldondeployments"]);
  const secret = await kc
    .makeApiClient(CoreV1Api)
    .readNamespacedSecret({ name: "mlflow2seldon-credentials", namespace: serviceNamespace });
  expect(Buffer.from(secret.data!.M2S_MLFLOW_TOKEN, "base64").toString()).toBe(TOKEN);

  const [sdep] = await stackObjects();
  expect(sdep.metadata.annotations[ANNOTATIONS.modelName]).toBe(stackModel);
  expect(sdep.metadata.labels[LABELS.version]).toBe("1");

  // The token is a secret everywhere Pulumi keeps it: outputs, output text and state.
  expect(up).not.toContain(TOKEN);
  expect(pulumiOk(["stack", "export", "--stack", stack])).not.toContain(TOKEN);
});

/** A kubeconfig that authenticates as the ServiceAccount the stack deployed the service with. */
async function deployedServiceKubeconfig(): Promise<string> {
  const { status } = await kubeConfig()
    .makeApiClient(CoreV1Api)
    .createNamespacedServiceAccountToken({
      name: "mlflow2seldon",
      namespace: serviceNamespace,
      body: { spec: {} },
    });
  return kubeconfigWithToken(status!.token!);
}

/** The sync service as the stack deployed it: its ServiceAccount, so its Role must be enough. */
async function serviceAsDeployed() {
  const adminKubeconfig = process.env.KUBECONFIG;
  process.env.KUBECONFIG = await deployedServiceKubeconfig();
  const service = syncFixture(deploymentNamespace, prefix).service({
    M2S_INCLUDE_MODELS: `${prefix}*`,
    M2S_EXCLUDE_MODELS: `${stackModel}*`,
    M2S_OWNER: serviceOwner,
  });
  process.env.KUBECONFIG = adminKubeconfig;
  return service;
}

/**
 * The environment the stack's Deployment gives its container (its values, its Secret, the pod's
 * name and namespace), for a process run as the pod `podName`, with `overrides`.
 */
async function deployedEnvironment(podName: string, overrides: Record<string, string>) {
  const api = kubeConfig().makeApiClient(CoreV1Api);
  const deployment = await kubeConfig()
    .makeApiClient(AppsV1Api)
    .readNamespacedDeployment({ name: "mlflow2seldon", namespace: serviceNamespace });
  const container = deployment.spec!.template.spec!.containers[0];
  const fromPod: Record<string, string> = {
    "metadata.name": podName,
    "metadata.namespace": serviceNamespace,
  };
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, KUBECONFIG: await deployedServiceKubeconfig() };
  for (const variable of container.env ?? [])
    env[variable.name] = variable.value ?? fromPod[variable.valueFrom!.fieldRef!.fieldPath];
  for (const source of container.envFrom ?? []) {
    const secret = await api.readNamespacedSecret({
      name: source.secretRef!.name!,
      namespace: serviceNamespace,
    });
    for (const [key, value] of Object.entries(secret.data ?? {}))
      env[key] = Buffer.from(value, "base64").toString("utf8");
  }
  // This file's models only (the testbed's MLflow holds every test's); a port of the OS's.
  return { ...env, M2S_INCLUDE_MODELS: `${prefix}*`, M2S_HTTP_PORT: String(await freePort()), ...overrides };
}

test("the sync service, with exactly its deployed RBAC, and the stack share the namespace without touching each other's objects", async () => {
  const service = await serviceAsDeployed();
  const before = (await stackObjects())[0];
  const outcome = await service.runCycle();
  expect(outcome.ok).toBe(true);
  const all = await listSeldonDeployments(deploymentNamespace);
  const serviceObject = all.find((o) => o.metadata.labels[LABELS.owner] === serviceOwner);
  expect(serviceObject.metadata.annotations[ANNOTATIONS.modelName]).toBe(serviceModel);
  const events = await eventsRecordedFor(deploymentNamespace, { name: serviceObject.metadata.name });
  expect(events.map((e) => e.reason)).toEqual(["Created"]);
  expect(writtenContent((await stackObjects())[0])).toEqual(writtenContent(before));

  // A fresh process: the stack's objects say where their versions are, so MLflow is asked only
  // for the registry's pages, nothing about the stack's model.
  let preview = "";
  expect(versionRequestsDuring(stackModel, () => (preview = cli("preview --diff")))).toEqual([]);
  expect(preview).toMatch(/Resources:\s+\d+ unchanged/);
  const again = (await listSeldonDeployments(deploymentNamespace)).find(
    (o) => o.metadata.labels[LABELS.owner] === serviceOwner,
  );
  expect(writtenContent(again)).toEqual(writtenContent(serviceObject));
});

test("the service run as the Deployment runs it, as its ServiceAccount: the Lease, apply, Events and the watch all pass its RBAC", async () => {
  const pod = `mlflow2seldon-${id}-a`;
  const service = await startService(await deployedEnvironment(pod, {}));
  try {
    // Leader election is on (two replicas): a standby is ready too, so leading is waited for;
    // the Lease in the service's namespace is this pod's.
    await eventually("leading", async () => (await service.metric("mlflow2seldon_leader")) === 1);
    const leases = await kubeConfig()
      .makeApiClient(CoordinationV1Api)
      .listNamespacedLease({ namespace: serviceNamespace });
    expect(leases.items.map((l) => l.spec?.holderIdentity)).toContain(pod);
    // A hand edit of its object, once its first full read is done and its watch is open, comes
    // back through the watch.
    await eventually(
      "the first full read and the watch",
      async () =>
        (await service.metric('mlflow2seldon_cycles_total{result="success"}')) >= 1 &&
        (await service.metric('mlflow2seldon_kube_requests_total{verb="watch"}')) >= 1,
    );
    const [object] = (await listSeldonDeployments(deploymentNamespace)).filter(
      (o) => o.metadata.labels[LABELS.owner] === serviceOwner,
    );
    const replicas = object.spec.predictors[0].replicas;
    await editObject(seldon, deploymentNamespace, object.metadata.name, (current) => {
      current.spec.predictors[0].replicas = replicas + 4;
    });
    await eventually("the edit repaired", async () => {
      const now = await customObjects().getNamespacedCustomObject({
        ...seldon,
        namespace: deploymentNamespace,
        name: object.metadata.name,
      });
      return now.spec.predictors[0].replicas === replicas;
    });
    expect(await service.metric("mlflow2seldon_drift_detected_total")).toBe(1);
    expect(service.logs.join("\n")).not.toMatch(/forbidden/i);
  } finally {
    await service.stop();
  }
});

test("clusterWideRbac: the Role reaches no other namespace; with clusterWideRbac the service writes in any", async () => {
  const elsewhere = await freshNamespace("elsewhere");
  const syncOnceElsewhere = async () =>
    run(process.execPath, [serviceBin, "sync", "--once"], {
      env: await deployedEnvironment(`mlflow2seldon-${id}-b`, { M2S_SELDON_DEPLOYMENT_NS: elsewhere }),
    });
  const refused = await syncOnceElsewhere();
  expect(refused.code).toBe(1);
  expect(refused.output).toMatch(/forbidden/i);
  expect(await listSeldonDeployments(elsewhere)).toEqual([]);

  pulumiOk(["config", "set", "--stack", stack, "mlflow2seldon:clusterWideRbac", "true"]);
  cli("up --yes");
  const rbac = kubeConfig().makeApiClient(RbacAuthorizationV1Api);
  const binding = (await rbac.listClusterRoleBinding()).items.find((b) =>
    b.subjects?.some((s) => s.name === "mlflow2seldon" && s.namespace === serviceNamespace),
  );
  expect(binding?.roleRef.kind).toBe("ClusterRole");
  clusterRoleName = binding!.roleRef.name;
  // The namespaced Role and its binding are gone: one grant, not two.
  expect((await rbac.listNamespacedRoleBinding({ namespace: deploymentNamespace })).items).toEqual([]);

  const allowed = await syncOnceElsewhere();
  expect(allowed.code).toBe(0);
  const [written] = await listSeldonDeployments(elsewhere);
  expect(written.metadata.annotations[ANNOTATIONS.modelName]).toBe(serviceModel);
});

test("the guardrails deployed with the service: the API server refuses a floating image the service writes, reported per object", async () => {
  const floating = `${prefix} floating`;
  await registerModel(floating, 1);
  await mlflow().setRegisteredModelTag(
    floating,
    "deployment-image",
    "registry.example.com/mlflow-wrapper:latest",
  );
  await mlflow().transitionStage(floating, "1", "Production");
  try {
    const outcome = await (await serviceAsDeployed()).runCycle();
    expect(outcome.ok).toBe(false);
    expect(outcome.report?.failures).toEqual([
      expect.objectContaining({
        model: floating,
        action: "create",
        message: expect.stringMatching(
          /denied request: no-floating-image-tags: .* uses an image without a version tag/,
        ),
      }),
    ]);
    expect(outcome.report?.unchanged.map((o) => o.model)).toEqual([serviceModel]);
    const objects = await listSeldonDeployments(deploymentNamespace);
    expect(objects.some((o) => o.metadata.annotations[ANNOTATIONS.modelName] === floating)).toBe(false);
  } finally {
    await mlflow().transitionStage(floating, "1", "Archived");
  }
});

test("a Production object with one replica and no limits is admitted with the guardrails' warnings, reported per object", async () => {
  const warned = `${prefix} warned`;
  await registerModel(warned, 1);
  await mlflow().transitionStage(warned, "1", "Production");
  try {
    const outcome = await (await serviceAsDeployed()).runCycle();
    expect(outcome.ok).toBe(true);
    const created = outcome.report?.changes.find((c) => c.model === warned);
    expect(created?.action).toBe("create");
    expect(created?.warnings).toEqual([
      expect.stringContaining("production-replicas-and-limits: "),
      expect.stringContaining("production-replicas-and-limits: "),
    ]);
    expect(created?.warnings?.join("\n")).toMatch(/fewer than 2 replicas[^]*without CPU and memory limits/);
  } finally {
    await mlflow().transitionStage(warned, "1", "Archived");
  }
});

test("the policy pack reports on the stack's model deployments through the CLI", () => {
  const preview = pulumiOk(["preview", "--diff", "--policy-pack", "policy", "--stack", stack]);
  expect(preview).toContain("production-replicas-and-limits");
  expect(preview).toMatch(new RegExp(`${stackModel} serves Production with 1 replica`));
});

test("preview shows a canary from the registry as the slot's candidate", async () => {
  await mlflow().setAlias(stackModel, "challenger", "2");
  await mlflow().setRegisteredModelTag(stackModel, MODEL_TAGS.canary, '{"from":"@challenger","percent":10}');
  try {
    expect(cli("preview --diff")).toMatch(/candidate\s*:\s*"canary 10% of version 2 \(alias:challenger\)"/);
  } finally {
    await mlflow().deleteRegisteredModelTag(stackModel, MODEL_TAGS.canary);
    await mlflow().deleteAlias(stackModel, "challenger");
  }
});

test("after a promotion, preview shows the update from the old to the new version and up applies it in place", async () => {
  const [before] = await stackObjects();
  await mlflow().transitionStage(stackModel, "2", "Production", true);
  // The summary names the slot that changes in its group.
  expect(cli("preview")).toMatch(
    new RegExp(
      `~ +pulumi-nodejs:dynamic/mlflow2seldon:ModelDeploymentGroup models-[0-9a-f]{2} update \\[diff: ~${before.metadata.name}\\]`,
    ),
  );
  // A slot is JSON text in the state; the CLI still shows its change field by field.
  const preview = cli("preview --diff");
  expect(preview).toMatch(new RegExp(`~ ${before.metadata.name}\\s*: \\(json\\) \\{`));
  expect(preview).toMatch(/version\s*:\s*"1" => "2"/);
  expect(preview).toMatch(/mlflow2seldon\.io\/model-version\s*:\s*"1" => "2"/);
  cli("up --yes");
  const [after] = await stackObjects();
  expect(after.metadata.uid).toBe(before.metadata.uid);
  expect(after.metadata.labels[LABELS.version]).toBe("2");
});

test("a stack made with a ModelDeployment per slot moves to groups without deleting what a group serves", async () => {
  const [served] = await stackObjects();
  // An object only the old resource serves (its slot gone meanwhile): the move deletes it.
  const gone = {
    ...served,
    metadata: {
      ...served.metadata,
      name: `legacy-${id}`,
      uid: undefined,
      resourceVersion: undefined,
      annotations: { ...served.metadata.annotations, [ANNOTATIONS.pulumiGroup]: undefined },
    },
  };
  await customObjects().createNamespacedCustomObject({
    ...seldon,
    namespace: deploymentNamespace,
    body: gone,
  });
  const state = JSON.parse(pulumiOk(["stack", "export", "--stack", stack]));
  const resources: { type: string; provider?: string }[] = state.deployment.resources;
  const nodejsProvider = resources.find((r) => r.type.endsWith(":ModelDeploymentGroup"))?.provider;
  const providerModule = `exports.handler = () => require(${JSON.stringify(join(repoRoot, "provider", "load-runtime.cjs"))}).modelDeploymentProvider;`;
  const legacy = (name: string) => {
    const outputs = {
      __provider: providerModule,
      owner,
      apiVersion: served.apiVersion,
      kind: served.kind,
      namespace: deploymentNamespace,
      name,
    };
    return {
      urn: `urn:pulumi:${stack}::mlflow2seldon::pulumi-nodejs:dynamic/mlflow2seldon:ModelDeployment::${name}`,
      custom: true,
      id: `${deploymentNamespace}/${name}`,
      type: "pulumi-nodejs:dynamic/mlflow2seldon:ModelDeployment",
      inputs: { __provider: providerModule },
      outputs,
      provider: nodejsProvider,
    };
  };
  resources.push(legacy(served.metadata.name), legacy(gone.metadata.name));
  const file = join(tmp.dir, "legacy-state.json");
  writeFileSync(file, JSON.stringify(state));
  pulumiOk(["stack", "import", "--file", file, "--stack", stack]);
  rmSync(file);
  expect(cli("up --yes")).toMatch(
    /- +pulumi-nodejs:dynamic\/mlflow2seldon:ModelDeployment \S+ deleted[^]*- +pulumi-nodejs:dynamic\/mlflow2seldon:ModelDeployment \S+ deleted/,
  );
  const after = await stackObjects();
  expect(after.map((o) => [o.metadata.name, o.metadata.uid])).toEqual([
    [served.metadata.name, served.metadata.uid],
  ]);
});

test("pulumi refresh notices a SeldonDeployment deleted by hand, and up puts it back", async () => {
  const [sdep] = await stackObjects();
  await customObjects().deleteNamespacedCustomObject({
    ...seldon,
    namespace: deploymentNamespace,
    name: sdep.metadata.name,
  });
  // The group forgets the object, so the next up applies its slot again.
  expect(cli("refresh --yes")).toMatch(
    /pulumi-nodejs:dynamic\/mlflow2seldon:ModelDeploymentGroup \S+ updated/,
  );
  expect(cli("preview --diff")).toMatch(
    /~ pulumi-nodejs:dynamic\/mlflow2seldon:ModelDeploymentGroup: \(update\)/,
  );
  cli("up --yes");
  const [restored] = await stackObjects();
  expect(restored.metadata.name).toBe(sdep.metadata.name);
});

test("pulumi refresh notices a SeldonDeployment edited by hand, up restores it, and a refresh after that finds nothing", async () => {
  const [sdep] = await stackObjects();
  const predictors = sdep.spec.predictors as { replicas: number }[];
  const replicas = predictors[0].replicas;
  predictors[0].replicas = replicas + 3;
  await customObjects().replaceNamespacedCustomObject({
    ...seldon,
    namespace: deploymentNamespace,
    name: sdep.metadata.name,
    body: sdep,
  });
  const updated = /pulumi-nodejs:dynamic\/mlflow2seldon:ModelDeploymentGroup \S+ updated/;
  expect(cli("refresh --yes")).toMatch(updated);
  expect(cli("preview --diff")).toMatch(
    /~ pulumi-nodejs:dynamic\/mlflow2seldon:ModelDeploymentGroup: \(update\)/,
  );
  cli("up --yes");
  const [restored] = await stackObjects();
  expect((restored.spec.predictors as { replicas: number }[])[0].replicas).toBe(replicas);
  expect(cli("refresh --yes")).not.toMatch(updated);
});

test("after an archive, preview shows the delete and up removes the SeldonDeployment", async () => {
  await mlflow().transitionStage(stackModel, "2", "Archived");
  // The group served only this slot, so it goes with it.
  expect(cli("preview --diff")).toMatch(
    /- pulumi-nodejs:dynamic\/mlflow2seldon:ModelDeploymentGroup: \(delete\)/,
  );
  cli("up --yes");
  expect(await stackObjects()).toEqual([]);
});

test("pulumi destroy leaves none of the stack's objects and no namespace it created, MLflow down or not", async () => {
  await mlflow().transitionStage(stackModel, "1", "Production");
  cli("up --yes");
  expect(await stackObjects()).toHaveLength(1);
  // With MLflow unreachable, up fails naming the endpoint and deletes nothing; destroy still works.
  pulumiOk(["config", "set", "--stack", stack, "mlflow2seldon:mlflowUrl", "http://127.0.0.1:9"]);
  const unreachable = pulumi(["up", "--yes", "--stack", stack]);
  expect(unreachable.code).not.toBe(0);
  expect(unreachable.output).toContain("MLflow registered-models/search: network error ECONNREFUSED");
  expect(await stackObjects()).toHaveLength(1);
  cli("destroy --yes");
  expect(await stackObjects()).toEqual([]);
  const core = kubeConfig().makeApiClient(CoreV1Api);
  for (const name of [deploymentNamespace, serviceNamespace]) {
    const namespace = await core.readNamespace({ name }).catch((error: { code?: number }) => {
      if (error.code === 404) return undefined;
      throw error;
    });
    expect(namespace === undefined || namespace.status?.phase === "Terminating").toBe(true);
  }
  await expect(
    kubeConfig()
      .makeApiClient(AppsV1Api)
      .readNamespacedDeployment({ name: "mlflow2seldon", namespace: serviceNamespace }),
  ).rejects.toMatchObject({ code: 404 });
  // The guardrails are cluster-scoped: none is left for the stack's namespace.
  const bindings = await kubeConfig()
    .makeApiClient(AdmissionregistrationV1Api)
    .listValidatingAdmissionPolicyBinding();
  const forStack = bindings.items.filter((b) =>
    JSON.stringify(b.spec?.matchResources?.namespaceSelector).includes(`"${deploymentNamespace}"`),
  );
  expect(forStack).toEqual([]);
  // So is the ClusterRole clusterWideRbac created.
  await expect(
    kubeConfig().makeApiClient(RbacAuthorizationV1Api).readClusterRole({ name: clusterRoleName }),
  ).rejects.toMatchObject({ code: 404 });
});

test("make deploy's settings check fails without a terminal, naming the setting and the command", () => {
  const result = run("make", ["deploy", `STACK=prompt-${id}`]);
  try {
    expect(result.code).not.toBe(0);
    expect(result.output).toContain(`pulumi config set --stack prompt-${id} mlflow2seldon:mlflowUrl`);
  } finally {
    pulumiOk(["stack", "rm", "--yes", "--force", `prompt-${id}`]);
  }
});

test("the stack's commands leave no copy of the kubeconfig in TMPDIR", () => {
  // The Kubernetes plugin copies a kubeconfig it is given (content, or the path the SDK defaults
  // to from $KUBECONFIG) into TMPDIR and never removes it; the program gives it neither, so the
  // plugin reads $KUBECONFIG itself. pulumi-library.test.ts shows the copy where content is given.
  expect(tmp.kubeconfigCopies()).toEqual([]);
});
