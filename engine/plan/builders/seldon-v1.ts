import type { DeploymentSpecInput, PredictorInput } from "../../vocabulary";
// The SeldonDeployment (machinelearning.seldon.io/v1) of a serving slot: one predictor, or two
// for a rollout. The model is read by a wrapper image from mounted storage, or by Seldon's
// prepackaged MLFLOW_SERVER from a model URI. Pure.

const CONTAINER = "model";
const STORAGE_VOLUME = "mlflow-artifacts";

/** One predictor's graph and pod spec serving `version` of the model. */
function predictorParts(input: DeploymentSpecInput, { version, serving }: PredictorInput) {
  const resources = input.resources ? { resources: input.resources } : {};
  const graph: Record<string, unknown> = { name: CONTAINER, type: "MODEL", children: [] };
  let podSpec: Record<string, unknown> | undefined;
  if (serving.mode === "wrapper-image") {
    podSpec = {
      containers: [
        {
          name: CONTAINER,
          image: serving.image,
          env: [
            { name: "MODEL_PATH", value: serving.modelPath },
            { name: "MODEL_NAME", value: input.model },
            { name: "MODEL_VERSION", value: version },
          ],
          ...(serving.storageClaim
            ? { volumeMounts: [{ name: STORAGE_VOLUME, mountPath: serving.storageRoot, readOnly: true }] }
            : {}),
          ...resources,
        },
      ],
      ...(serving.storageClaim
        ? {
            volumes: [
              {
                name: STORAGE_VOLUME,
                persistentVolumeClaim: { claimName: serving.storageClaim, readOnly: true },
              },
            ],
          }
        : {}),
    };
  } else {
    graph.implementation = "MLFLOW_SERVER";
    graph.modelUri = serving.modelUri;
    if (serving.credentialsSecret) graph.envSecretRefName = serving.credentialsSecret;
    if (input.resources) podSpec = { containers: [{ name: CONTAINER, ...resources }] };
  }
  return { replicas: input.replicas, graph, ...(podSpec ? { componentSpecs: [{ spec: podSpec }] } : {}) };
}

/**
 * The predictors: the served version alone, or beside its candidate — a canary takes its share
 * of the traffic; a shadow gets a copy of every request (Seldon discards its answers).
 */
function predictors(input: DeploymentSpecInput): Record<string, unknown>[] {
  const main = { name: "default", ...predictorParts(input, input) };
  const { candidate } = input;
  if (!candidate) return [main];
  const second = { name: candidate.mode, ...predictorParts(input, candidate) };
  return candidate.mode === "canary"
    ? [
        { ...main, traffic: 100 - (candidate.percent ?? 0) },
        { ...second, traffic: candidate.percent },
      ]
    : [
        { ...main, traffic: 100 },
        { ...second, shadow: true },
      ];
}

export function seldonDeploymentSpec(input: DeploymentSpecInput): Record<string, unknown> {
  return { name: input.name, protocol: input.protocol, predictors: predictors(input) };
}
