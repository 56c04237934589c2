/**
 * The executable schema: imports every domain file (each registers its types and fields on the builder) and
 * builds once. `printSortedSchema` is what `npm run schema` writes to schema.graphql.
 */
import { lexicographicSortSchema, printSchema } from "graphql";
import { builder } from "./builder.ts";
import "./errors.ts";
import "./pipeline.ts";
import "./generate.ts";
import "./loaded-pipelines.ts";
import "./jobs.ts";
import "./pipeline-variants.ts";
import "./loras.ts";

export const schema = builder.toSchema();

/** The SDL of the schema, types sorted, as committed in schema.graphql. */
export function printSortedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
