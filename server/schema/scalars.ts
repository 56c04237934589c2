/**
 * Custom scalars. `Seed`: any seed torch's `manual_seed` accepts (0 … 2^64−1), sent as an integer or a decimal
 * string, returned as a decimal string (JSON numbers lose precision past 2^53). Range is checked by the resolver
 * so that an out-of-range seed is a typed InvalidInputError; only non-integers fail here. `File`: a multipart
 * upload, as graphql-yoga hands it to resolvers (a WHATWG File).
 */
import { GraphQLError, Kind } from "graphql";
import { builder } from "./builder.ts";

const SEED_SYNTAX = /^-?\d{1,40}$/;

function parseSeed(value: unknown): bigint {
  if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === "string" && SEED_SYNTAX.test(value.trim())) return BigInt(value.trim());
  if (typeof value === "bigint") return value;
  throw new GraphQLError(
    `Seed must be an integer from 0 to 18446744073709551615, given as a number (up to 2^53) or a decimal string; got ${JSON.stringify(String(value)).slice(0, 60)}`,
  );
}

export const SeedScalar = builder.scalarType("Seed", {
  description: "A torch generator seed, 0 … 2^64−1: an integer or a decimal string in, a decimal string out.",
  serialize: (value) => value.toString(),
  parseValue: (value) => parseSeed(value),
  parseLiteral: (ast) => {
    if (ast.kind === Kind.INT || ast.kind === Kind.STRING)
      return parseSeed(ast.kind === Kind.INT ? ast.value : ast.value);
    throw new GraphQLError("Seed must be an integer literal or a decimal string");
  },
});

export const FileScalar = builder.scalarType("File", {
  description: "A file sent as a multipart request part (GraphQL multipart request spec).",
  serialize: () => {
    throw new GraphQLError("File is an input-only scalar");
  },
  parseValue: (value) => {
    // Yoga's multipart parser may hand over its own File implementation: check the shape, not the class.
    if (isFileLike(value)) return value;
    throw new GraphQLError("File must be sent as a multipart upload");
  },
});

function isFileLike(value: unknown): value is File {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as File).stream === "function" &&
    typeof (value as File).arrayBuffer === "function" &&
    typeof (value as File).size === "number"
  );
}
