/**
 * `npm run schema` writes schema.graphql from the Pothos schema; `--check` fails when the committed file drifts.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { printSortedSchema } from "../server/schema/schema.ts";

const file = new URL("../schema.graphql", import.meta.url);
const printed = printSortedSchema();

if (process.argv.includes("--check")) {
  let committed = "";
  try {
    committed = readFileSync(file, "utf8");
  } catch {}
  if (committed !== printed) {
    console.error("schema.graphql is out of date with the Pothos schema: run `npm run schema`.");
    process.exit(1);
  }
  console.log("schema.graphql is up to date.");
} else {
  writeFileSync(file, printed);
  console.log("wrote schema.graphql");
}
