// Gives every integration test file the testbed's environment (MLflow URL, KUBECONFIG, Pulumi).
import { readTestbedEnv } from "./testbed-env";

Object.assign(process.env, readTestbedEnv());
