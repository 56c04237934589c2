/**
 * The Pothos schema builder: configuration only. Types and fields live in one file per domain next to the type
 * they return (errors.ts, pipeline.ts, generate.ts, ...); `schema.ts` imports them all and builds the schema.
 */
import SchemaBuilder from "@pothos/core";
import type { Context } from "../context.ts";

export type Scalars = {
  /** A torch seed, 0 … 2^64−1: accepted as an integer or a decimal string, returned as a decimal string. */
  Seed: { Input: bigint; Output: bigint };
  /** A multipart upload (GraphQL multipart request spec): a WHATWG File. */
  File: { Input: File; Output: never };
};

export const builder = new SchemaBuilder<{
  Context: Context;
  Scalars: Scalars;
  DefaultFieldNullability: false;
  DefaultInputFieldRequiredness: false;
}>({
  defaultFieldNullability: false,
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
