// The benchmark registry: N registered models with three versions each. About a third have a
// version in Production, a sixth one in Staging and a tenth hold the `champion` alias, so a
// registry of N models serves about 0.6 N SeldonDeployments. Pure: population and the
// promotion benchmark both read it.
import { deploymentName } from "../engine/plan/naming";

/** Bumped whenever the data below changes, so cached registries are rebuilt. */
export const DATASET_VERSION = 1;
export const SIZES = [100, 1000, 5000] as const;
export const VERSIONS_PER_MODEL = 3;
export const SERVING_ALIAS = "champion";

export interface BenchModel {
  name: string;
  production?: string;
  staging?: string;
  champion?: string;
}

export function benchModel(index: number): BenchModel {
  const id = String(index).padStart(5, "0");
  // Some names need the naming rules (spaces, capitals, dots), as real registries do.
  const name = index % 7 === 0 ? `Fraud Scorer v2.${id}` : `bench-model-${id}`;
  return {
    name,
    production: index % 3 === 0 ? "2" : undefined,
    staging: index % 6 === 1 ? "3" : undefined,
    champion: index % 10 === 5 ? "1" : undefined,
  };
}

/** A version's source under `root`, which the service maps as its artifact root: every slot plans cleanly. */
export function versionSource(root: string, model: string, version: number): string {
  return `${root}/${encodeURIComponent(model)}/${version}/model`;
}

export function servedSlots(models: number): number {
  let slots = 0;
  for (let i = 0; i < models; i++) {
    const m = benchModel(i);
    slots += Number(Boolean(m.production)) + Number(Boolean(m.staging)) + Number(Boolean(m.champion));
  }
  return slots;
}

export interface Promotion {
  model: string;
  kind: "stage" | "alias";
  /** The version the promotion serves. */
  version: string;
  /** The SeldonDeployment that must show `version`. */
  deployment: string;
}

/**
 * `count` promotions spread over the registry: half move Production from version 2 to 3, half
 * move the champion alias from version 1 to 2; each `round` picks other models.
 */
export function promotions(models: number, count: number, round = 0): Promotion[] {
  const stage = Array.from({ length: models }, (_, i) => benchModel(i)).filter((m) => m.production);
  const alias = Array.from({ length: models }, (_, i) => benchModel(i)).filter((m) => m.champion);
  const spread = <T>(items: T[], n: number) =>
    Array.from({ length: n }, (_, k) => items[(Math.floor((k * items.length) / n) + round) % items.length]);
  const half = Math.floor(count / 2);
  return [
    ...spread(stage, count - half).map((m) => ({
      model: m.name,
      kind: "stage" as const,
      version: "3",
      deployment: deploymentName(m.name, { kind: "stage", name: "Production" }),
    })),
    ...spread(alias, half).map((m) => ({
      model: m.name,
      kind: "alias" as const,
      version: "2",
      deployment: deploymentName(m.name, { kind: "alias", name: SERVING_ALIAS }),
    })),
  ];
}
