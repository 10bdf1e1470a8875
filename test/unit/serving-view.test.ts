import { servesReady, servingView } from "../../engine/apply/serving-view";
import type { ServingObject } from "../../engine/vocabulary";

const withStatus = (status: unknown) =>
  ({
    apiVersion: "v",
    kind: "k",
    metadata: { name: "n", namespace: "ns", labels: {}, annotations: {} },
    spec: {},
    status,
  }) as ServingObject;

test("KServe's conditions: the first unmet one says why, before the summary Ready", () => {
  expect(
    servingView(
      withStatus({
        conditions: [
          { type: "IngressReady", status: "True" },
          {
            type: "PredictorReady",
            status: "False",
            reason: "MinimumReplicasUnavailable",
            message: "Deployment does not have minimum availability.",
          },
          { type: "Ready", status: "False", reason: "Predictor ingress not created" },
        ],
      }),
    ),
  ).toBe(
    "not ready (PredictorReady: MinimumReplicasUnavailable - Deployment does not have minimum availability.)",
  );
  expect(servingView(withStatus({ conditions: [{ type: "Ready", status: "True" }] }))).toBe("ready");
});

test("Seldon v1's state, with its description and an unmet condition", () => {
  expect(
    servingView(withStatus({ state: "Available", conditions: [{ type: "Ready", status: "True" }] })),
  ).toBe("Available");
  expect(servingView(withStatus({ state: "Failed", description: "Failed to find executor image" }))).toBe(
    "Failed; Failed to find executor image",
  );
  expect(
    servingView(
      withStatus({
        state: "Creating",
        conditions: [{ type: "DeploymentsReady", status: "False", reason: "No Deployments Ready" }],
      }),
    ),
  ).toBe("Creating; DeploymentsReady: No Deployments Ready");
});

test("no status yet, or one of another shape, gives no view", () => {
  expect(servingView(withStatus(undefined))).toBeUndefined();
  expect(servingView(withStatus({}))).toBeUndefined();
  expect(servingView(withStatus({ conditions: "not a list" }))).toBeUndefined();
});

test("a view serves when every condition is met or Seldon v1 says Available", () => {
  expect(servesReady("ready")).toBe(true);
  expect(servesReady("Available")).toBe(true);
  expect(servesReady("Creating; DeploymentsReady: MinimumReplicasUnavailable")).toBe(false);
  expect(servesReady("not ready (PredictorReady: False)")).toBe(false);
});
