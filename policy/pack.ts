// The mlflow2seldon policy pack: `pulumi preview --policy-pack policy` (or `make preview`).
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";

new PolicyPack("mlflow2seldon", { policies });
