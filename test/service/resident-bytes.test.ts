/**
 * `pipelines { residentBytesAfterLoad residentBytes }`: measured growth of the server's resident memory while a
 * checkpoint's graphs loaded, and what it kept after its last generation.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../helpers/services.ts";

let app: TestApp;
beforeAll(() => {
  app = createTestApp();
});
afterAll(() => app.close());

const PIPELINES = /* GraphQL */ `{ pipelines { model bytes residentBytesAfterLoad residentBytes } }`;
type Info = {
  model: string;
  bytes: number;
  residentBytesAfterLoad: number | null;
  residentBytes: number | null;
};

it("reports resident bytes after load, and after a generation", async () => {
  const loaded = await app.gql(/* GraphQL */ `mutation { loadPipeline(model: "tiny-sd") { __typename } }`);
  expect(loaded.data).toEqual({ loadPipeline: { __typename: "LoadedPipeline" } });
  const afterLoad = (await app.gql<{ pipelines: Info[] }>(PIPELINES)).data!.pipelines[0]!;
  // The sessions hold at least their weights' worth of memory; no generation ran yet.
  expect(afterLoad.residentBytesAfterLoad).toBeGreaterThan(0);
  expect(afterLoad.residentBytes).toBeNull();

  const generated = await app.gql(
    /* GraphQL */ `mutation { generate(input: { textToImage: { model: "tiny-sd", prompt: "a cat", numInferenceSteps: 2 } }) { __typename } }`,
  );
  expect(generated.data).toEqual({ generate: { __typename: "Generation" } });
  const after = (await app.gql<{ pipelines: Info[] }>(PIPELINES)).data!.pipelines[0]!;
  expect(after.residentBytesAfterLoad).toBeGreaterThanOrEqual(afterLoad.residentBytesAfterLoad!);
  expect(after.residentBytes).toBeGreaterThanOrEqual(after.residentBytesAfterLoad!);
});
