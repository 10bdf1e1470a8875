// Where the serving controllers' Pods serve a serving object's model: how their Pods are labelled,
// the model's name in the model server, and the ports the model server listens on in the Pod.

export interface ServingPod {
  /** Selects the Pods the controller's Deployment makes for the object named `object`. */
  selector(object: string): string;
  /** The model's name in the V2 model server. */
  model(object: string): string;
  /** The model server's HTTP and gRPC ports in the Pod. */
  http: number;
  grpc: number;
}

export const SERVING_PODS = {
  // KServe's kserve-mlserver runtime: MLServer on KServe's ports, the model named after the object.
  kserve: {
    selector: (object) => `serving.kserve.io/inferenceservice=${object}`,
    model: (object) => object,
    http: 8080,
    grpc: 9000,
  },
  // Seldon's MLFLOW_SERVER with protocol v2: MLServer where Seldon's operator says, the model
  // named after the graph's one node.
  "seldon-v1": {
    selector: (object) => `seldon-deployment-id=${object}`,
    model: () => "model",
    http: 9000,
    grpc: 9500,
  },
} satisfies Record<string, ServingPod>;

export type ControllerTarget = keyof typeof SERVING_PODS;
