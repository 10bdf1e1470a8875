// The README's shell blocks, so tests run the commands exactly as the README shows them.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./testbed-env";

/** The command lines of the ```sh blocks of one README section (comments kept: bash drops them). */
export function readmeCommands(heading: string): string[][] {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const start = readme.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README.md has no section "${heading}"`);
  const next = readme.slice(start + heading.length + 2).search(/\n## /);
  const section = readme.slice(start, next < 0 ? undefined : start + heading.length + 2 + next);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((block) =>
    block[1].split("\n").filter((line) => line.trim() !== ""),
  );
}

/** A block's commands without their trailing comments, to compare with what a test expects. */
export const withoutComments = (block: string[]) => block.map((line) => line.split("#")[0].trim());
