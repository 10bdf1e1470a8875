// The mlflow2seldon policy pack: `pulumi preview --policy-pack policy` (or `make preview-policy`).
// Pulumi's Node.js runtime runs this TypeScript itself; @pulumi/policy resolves from the
// project's node_modules.
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";

new PolicyPack("mlflow2seldon", { policies });
