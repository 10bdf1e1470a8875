import { deploymentName, modelLabel } from "../../engine/plan/naming";
import { TARGETS } from "../../engine/serving-targets";
import { parseEngineSettings } from "../../engine/settings";
import type { Slot } from "../../engine/vocabulary";

const production: Slot = { kind: "stage", name: "Production" };
const dns1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

// Twenty awkward MLflow model names: unicode, spaces, underscores, case, length, punctuation.
const awkwardNames = [
  "Iris Classifier",
  "iris_classifier",
  "IRIS-CLASSIFIER",
  "iris classifier",
  "iris__classifier",
  "Ирис модель",
  "模型",
  "café crème",
  "naïve-bayes",
  "a".repeat(300),
  `${"x".repeat(24)}-suffix-one`,
  `${"x".repeat(24)}-suffix-two`,
  "  leading and trailing  ",
  "---",
  "1234",
  "emoji 🚀 model",
  "dots.in.name",
  "slash/name",
  "UPPER lower Mixed",
  "tab\tname",
];

test("awkward model names give valid, distinct, deterministic names within 44 characters", () => {
  const names = awkwardNames.map((model) => deploymentName(model, production));
  for (const name of names) {
    // DNS-1035: what the Services derived from the name must be, and KServe asks of its objects.
    expect(name).toMatch(dns1035);
    expect(name.length).toBeLessThanOrEqual(44);
  }
  expect(new Set(names).size).toBe(awkwardNames.length);
  expect(awkwardNames.map((model) => deploymentName(model, production))).toEqual(names);
});

test("a stage and an alias of the same name are different slots", () => {
  expect(deploymentName("m", { kind: "stage", name: "champion" })).not.toBe(
    deploymentName("m", { kind: "alias", name: "champion" }),
  );
});

test("names read like the model and slot", () => {
  expect(deploymentName("Iris Classifier", production)).toMatch(/^iris-classifier-production-[0-9a-f]{8}$/);
  expect(deploymentName("2024 churn", production)).toMatch(/^m-2024-churn-production-[0-9a-f]{8}$/);
});

test("model labels are valid label values and distinct", () => {
  const labels = awkwardNames.map(modelLabel);
  for (const label of labels) {
    expect(label.length).toBeLessThanOrEqual(63);
    expect(label).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  }
  expect(new Set(labels).size).toBe(awkwardNames.length);
});

test("a shorter limit (KServe's host label in a long namespace) shortens the model's slug, keeps the hash", () => {
  const namespace = "models-of-the-fraud-team"; // 24 characters: KServe leaves 28 for the name
  const limit = TARGETS.kserve.maxNameLength!(namespace);
  for (const model of awkwardNames) {
    const name = deploymentName(model, production, limit);
    expect(name).toMatch(dns1035);
    expect(`${name}-predictor-${namespace}`.length).toBeLessThanOrEqual(63);
    expect(name.endsWith(deploymentName(model, production).slice(-8))).toBe(true);
  }
});

test("a namespace too long for KServe's host names is a settings error naming it", () => {
  const namespace = "a-namespace-name-far-too-long-for-kserve";
  expect(() =>
    parseEngineSettings({ target: "kserve", namespace, owner: "o", servingMode: "mlflow-server" }, {
      target: "M2S_TARGET",
      namespace: "M2S_SELDON_DEPLOYMENT_NS",
    } as never),
  ).toThrow(
    /M2S_SELDON_DEPLOYMENT_NS.*a-namespace-name-far-too-long-for-kserve.*too long for the kserve target/s,
  );
});
