import { readFileSync } from "node:fs";
import { type GraphQLField, type GraphQLNamedType, isInputObjectType, isUnionType } from "graphql";
import { describe, expect, it } from "vitest";
import { printSortedSchema, schema } from "../../server/schema/schema.ts";

function signature(field: GraphQLField<unknown, unknown> | undefined): string {
  if (!field) return "missing";
  // Argument order carries no meaning in GraphQL: compare them sorted.
  const args = [...field.args]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((a) => `${a.name}: ${a.type}${a.defaultValue !== undefined ? ` = ${a.defaultValue}` : ""}`);
  return `${field.name}(${args.join(", ")}): ${field.type}`;
}

function type(name: string): GraphQLNamedType {
  const found = schema.getType(name);
  if (!found) throw new Error(`schema has no type ${name}`);
  return found;
}

describe("schema.graphql", () => {
  it("is the sorted print of the Pothos schema (run `npm run schema` after changing the schema)", () => {
    const committed = readFileSync(new URL("../../schema.graphql", import.meta.url), "utf8");
    expect(printSortedSchema()).toBe(committed);
  });

  it("keeps the contract's names", () => {
    const query = schema.getQueryType()!.getFields();
    const mutation = schema.getMutationType()!.getFields();
    expect(signature(query.resolvePipeline)).toBe(
      "resolvePipeline(controlnet: Boolean = false, enablePag: Boolean = false, model: String!, task: Task!): ResolvePipelineResult!",
    );
    expect(signature(mutation.generate)).toBe("generate(input: GenerateInput!): GenerateResult!");
    expect(String(query.models?.type)).toBe("[ModelInfo!]!");
    const task = type("Task");
    expect(
      "getValues" in task &&
        task
          .getValues()
          .map((v) => v.name)
          .sort(),
    ).toEqual(["IMAGE_TO_IMAGE", "INPAINTING", "TEXT_TO_IMAGE"]);
    const resolveResult = type("ResolvePipelineResult");
    expect(isUnionType(resolveResult) && resolveResult.getTypes().map(String)).toEqual(
      expect.arrayContaining([
        "PipelineResolution",
        "ModelNotFoundError",
        "UnsupportedPipelineError",
        "InvalidModelIndexError",
      ]),
    );
    const generateResult = type("GenerateResult");
    expect(isUnionType(generateResult) && generateResult.getTypes().map(String)).toEqual(
      expect.arrayContaining([
        "Generation",
        "ModelNotFoundError",
        "UnsupportedPipelineError",
        "InvalidInputError",
      ]),
    );
    for (const name of ["GenerateInput", "ImageInput"]) {
      const input = type(name);
      expect(isInputObjectType(input) && input.isOneOf).toBe(true);
    }
    const t2i = type("TextToImageInput");
    if (!isInputObjectType(t2i)) throw new Error("TextToImageInput is not an input");
    const fields = t2i.getFields();
    expect(
      Object.fromEntries(
        Object.values(fields).map((f) => [
          f.name,
          `${f.type}${f.defaultValue !== undefined ? ` = ${f.defaultValue}` : ""}`,
        ]),
      ),
    ).toEqual({
      model: "String!",
      prompt: "String!",
      negativePrompt: "String",
      width: "Int",
      height: "Int",
      // No GraphQL defaults: a field left out falls to the named pipeline's config, then the checkpoint's.
      numInferenceSteps: "Int",
      guidanceScale: "Float",
      numImagesPerPrompt: "Int = 1",
      seed: "Seed",
      scheduler: "SchedulerName",
      originalSize: "SizeInput",
      targetSize: "SizeInput",
      cropsCoordsTopLeft: "PointInput",
      aestheticScore: "Float",
      negativeAestheticScore: "Float",
      // No default either: the named pipeline's config's adapters apply unless the request names its own.
      loras: "[LoraInput!]",
    });
    const lora = type("LoraInput");
    if (!isInputObjectType(lora)) throw new Error("LoraInput is not an input");
    expect(
      Object.values(lora.getFields()).map(
        (f) => `${f.name}: ${f.type}${f.defaultValue !== undefined ? ` = ${f.defaultValue}` : ""}`,
      ),
    ).toEqual(["id: String!", "scale: Float! = 1"]);
    expect(printSortedSchema()).toContain("interface Error {\n  message: String!\n}");
    expect(printSortedSchema()).toMatch(/scalar Seed/);
  });
});
