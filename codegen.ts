/**
 * graphql-codegen: typed documents for the SDK from schema.graphql and client/operations/*.graphql, written to
 * client/generated/ (never edited by hand; `npm run codegen:check` fails on drift).
 */
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "schema.graphql",
  documents: ["client/operations/*.graphql"],
  ignoreNoDocuments: false,
  generates: {
    "client/generated/": {
      preset: "client",
      presetConfig: { fragmentMasking: false, gqlTagName: "graphql" },
      config: {
        documentMode: "string",
        importExtension: ".ts",
        useTypeImports: true,
        enumsAsTypes: true,
        skipTypename: false,
        nonOptionalTypename: true,
        scalars: {
          Seed: { input: "string | number | bigint", output: "string" },
          File: { input: "Blob | Uint8Array", output: "never" },
        },
      },
    },
  },
};

export default config;
