/**
 * The one error the client throws: transport failures (network, non-2xx, not JSON) and GraphQL errors (invalid
 * document, masked server error). Expected domain failures are not thrown: they come back as typed union members.
 */

export interface GraphQLErrorLike {
  message: string;
  path?: readonly (string | number)[];
  extensions?: Record<string, unknown>;
}

export class ClientError extends Error {
  override name = "ClientError";
  constructor(
    message: string,
    /** HTTP status, when a response arrived. */
    readonly status: number | null = null,
    /** GraphQL errors of the response, when any. */
    readonly errors: readonly GraphQLErrorLike[] = [],
  ) {
    super(message);
  }
}
