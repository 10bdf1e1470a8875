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

test("awkward model names give valid, distinct names within 44 characters", () => {
  const names = awkwardNames.map((model) => deploymentName(model, production));
  for (const name of names) {
    // DNS-1035: what the Services derived from the name must be, and KServe asks of its objects.
    expect(name).toMatch(dns1035);
    expect(name.length).toBeLessThanOrEqual(44);
  }
  expect(new Set(names).size).toBe(awkwardNames.length);
});

test("names are the same in every release: a changed name would replace every serving object", () => {
  expect(deploymentName("Iris Classifier", production)).toBe("iris-classifier-production-15e0f7e4");
  expect(deploymentName("模型", production)).toBe("model-production-713dd665");
  expect(deploymentName("a".repeat(300), production)).toBe("aaaaaaaaaaaaaaaaaaaaaaaa-production-e9151d2c");
  expect(deploymentName("fraud_detector", { kind: "alias", name: "champion" })).toBe(
    "fraud-detector-champion-9f82d7f7",
  );
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
