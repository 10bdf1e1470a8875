// Entry point the Pulumi CLI loads for this pack; the policies are compiled TypeScript.
require("../dist/policy/pack.js");
