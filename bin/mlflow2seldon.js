#!/usr/bin/env node
// Entry point of the `mlflow2seldon` command (compiled sources in dist/: npm run build).
require("../dist/service/cli.js")
  .main(process.argv.slice(2))
  .then((code) => process.exit(code));
