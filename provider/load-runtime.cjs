// Loads the dynamic providers' runtime for the dynamic provider process, which requires
// this file by its absolute path: this project's TypeScript source in a checkout (with the
// project's ts-node, transpile only, since the program's own run type-checks it), else the
// compiled JavaScript an installed package ships.
const { existsSync } = require("node:fs");
const { join } = require("node:path");

const source = join(__dirname, "runtime.ts");
if (existsSync(source)) {
  if (!(Symbol.for("ts-node.register.instance") in process)) {
    require("ts-node").register({
      transpileOnly: true,
      projectSearchDir: __dirname,
      compilerOptions: { module: "commonjs", moduleResolution: "node10", ignoreDeprecations: "6.0" },
    });
  }
  module.exports = require(source);
} else {
  module.exports = require(join(__dirname, "..", "dist", "provider", "runtime.js"));
}
