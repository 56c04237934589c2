/**
 * Turns expected failures into union members. A resolver whose result is a union wraps its work in `expected`:
 * errors of the listed classes come back wrapped in an ErrorResult (and resolve to their GraphQL type), anything
 * else is rethrown and masked by Yoga as an unexpected error.
 */
import type { AutopipeError } from "../errors.ts";
import { noteExpectedError } from "../observability/request-scope.ts";
import { ErrorResult } from "./errors.ts";

// biome-ignore lint/suspicious/noExplicitAny: constructor signatures of the error classes differ
type ErrorClass = abstract new (...args: any[]) => AutopipeError;

export async function expected<T>(
  work: () => Promise<T>,
  classes: readonly ErrorClass[],
): Promise<T | ErrorResult> {
  try {
    return await work();
  } catch (error) {
    if (classes.some((cls) => error instanceof cls)) {
      // Counted and logged by the request's observability plugin, under the GraphQL type's name.
      noteExpectedError((error as AutopipeError).name);
      return new ErrorResult(error as AutopipeError);
    }
    throw error;
  }
}
