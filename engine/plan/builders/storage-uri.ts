import type { PredictorInput } from "../../vocabulary";

/** The object-store URI a predictor reads (the planner gives KServe and Seldon v2 nothing else). */
export function storageUriOf({ serving }: PredictorInput): string {
  if (serving.mode !== "mlflow-server")
    throw new Error(`a storage URI is needed, not ${serving.mode} serving`);
  return serving.modelUri;
}
