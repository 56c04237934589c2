/**
 * Jobs belong to the API key that submitted them: another `generate` key can neither read, list, follow nor cancel
 * them (they look unknown), the owner and `admin` keys can.
 */
import { afterAll, describe, expect, it } from "vitest";
import { createServices } from "../../server/context.ts";
import { createAutopipeYoga } from "../../server/yoga.ts";
import { testConfig } from "../helpers/services.ts";

const ADMIN = "admin-key-0123456789abcdef";
const ALICE = "alice-key-0123456789abcdef";
const BOB = "bob-key-0123456789abcdef";

const services = createServices(
  testConfig({ AUTOPIPE_API_KEYS: `${ADMIN}:admin,${ALICE}:generate,${BOB}:generate`, LOG_LEVEL: "silent" }),
);
const yoga = createAutopipeYoga(services, { graphiql: false });
afterAll(() => services.dispose());

async function gql(key: string, query: string, variables: Record<string, unknown> = {}) {
  const response = await yoga.fetch("http://yoga/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as { data: Record<string, Record<string, unknown> | null> };
}

const SUBMIT = `mutation { submitGeneration(input: { textToImage: { model: "tiny-sd", prompt: "a", width: 32,
  height: 32, numInferenceSteps: 2, seed: 1 } }) { __typename ... on GenerationJob { id } } }`;
const JOB = "query ($id: ID!) { job(id: $id) { id status } }";
const JOBS = "{ jobs { id } }";
const CANCEL = "mutation ($id: ID!) { cancelJob(id: $id) { __typename ... on GenerationJob { id } } }";

describe("job ownership", () => {
  it("only the owner and admins see or cancel a job", async () => {
    const submitted = (await gql(ALICE, SUBMIT)).data.submitGeneration!;
    expect(submitted.__typename).toBe("GenerationJob");
    const id = submitted.id as string;
    await services.jobs.wait(id);

    expect((await gql(ALICE, JOB, { id })).data.job).toMatchObject({ id, status: "SUCCEEDED" });
    expect((await gql(ADMIN, JOB, { id })).data.job).toMatchObject({ id });
    expect((await gql(BOB, JOB, { id })).data.job).toBeNull();

    expect((await gql(ALICE, JOBS)).data.jobs).toEqual([{ id }]);
    expect((await gql(BOB, JOBS)).data.jobs).toEqual([]);
    expect((await gql(ADMIN, JOBS)).data.jobs).toEqual([{ id }]);

    expect((await gql(BOB, CANCEL, { id })).data.cancelJob).toMatchObject({ __typename: "JobNotFoundError" });
    expect((await gql(ALICE, CANCEL, { id })).data.cancelJob).toMatchObject({
      __typename: "GenerationJob",
      id,
    });
  });
});
