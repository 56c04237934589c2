/**
 * Limits on GraphQL documents, so that no single request can stall the server: graphql-armor's depth, alias,
 * token, cost and directive limits, a document size limit and a bracket nesting limit checked before parsing (the
 * parser recurses per level: see security/document-nesting.ts), at most one generation field per operation,
 * introspection and field suggestions as configured, and parse errors that never echo the request body.
 */
import { EnvelopArmor } from "@escape.tech/graphql-armor";
import {
  GraphQLError,
  Kind,
  NoSchemaIntrospectionCustomRule,
  type ValidationContext,
  type ValidationRule,
} from "graphql";
import { createGraphQLError, type Plugin } from "graphql-yoga";
import { nestingDepth } from "./document-nesting.ts";
import { fragmentsOf, rootFields } from "./operation.ts";

/** The limits, documented in README "Deploying". */
export const GRAPHQL_LIMITS = Object.freeze({
  /** Largest document (the query text; variables and uploads are bounded by the body size limit). */
  maxDocumentBytes: 64 * 1024,
  maxTokens: 2000,
  maxDepth: 12,
  /** `{`, `[` and `(` open at once: a depth-12 selection with nested input objects and lists needs about 20. */
  maxNesting: 32,
  maxAliases: 15,
  maxDirectives: 10,
  maxCost: 5000,
});

/** Root fields that each start a generation: at most one of them per operation. */
export const GENERATION_FIELDS: ReadonlySet<string> = new Set(["generate", "submitGeneration"]);

export interface GraphqlLimitOptions {
  /** Introspection queries allowed (and GraphiQL served). */
  readonly introspection: boolean;
  /** "Did you mean …?" suggestions in validation errors. */
  readonly fieldSuggestions: boolean;
}

export function graphqlLimitPlugins(options: GraphqlLimitOptions): Plugin[] {
  const armor = new EnvelopArmor({
    maxTokens: { n: GRAPHQL_LIMITS.maxTokens },
    maxDepth: { n: GRAPHQL_LIMITS.maxDepth, ignoreIntrospection: true, flattenFragments: true },
    maxAliases: { n: GRAPHQL_LIMITS.maxAliases },
    maxDirectives: { n: GRAPHQL_LIMITS.maxDirectives },
    costLimit: { maxCost: GRAPHQL_LIMITS.maxCost, ignoreIntrospection: true, flattenFragments: true },
    blockFieldSuggestion: { enabled: !options.fieldSuggestions },
  });
  const rules: ValidationRule[] = [oneGenerationPerOperation];
  if (!options.introspection) rules.push(NoSchemaIntrospectionCustomRule);
  return [
    useDocumentSizeLimit(GRAPHQL_LIMITS.maxDocumentBytes),
    useNestingLimit(GRAPHQL_LIMITS.maxNesting),
    ...(armor.protect().plugins as Plugin[]),
    {
      onValidate: ({ addValidationRule }) => {
        for (const rule of rules) addValidationRule(rule);
      },
    },
    useRequestErrorStatus(),
  ];
}

/** The refusal of a document over `maxBytes`, the same wherever it is refused. */
export function documentTooLarge(maxBytes: number) {
  return { message: `The document is larger than ${maxBytes} bytes`, code: "DOCUMENT_TOO_LARGE" } as const;
}

/**
 * Refuses a document larger than `maxBytes` with HTTP 413, before it is parsed as GraphQL. (Over HTTP, a JSON body
 * that begins with its query is refused earlier still, while it streams in: server/http-server.ts.)
 */
export function useDocumentSizeLimit(maxBytes: number): Plugin {
  return {
    onParams({ params }) {
      const query = params.query;
      if (typeof query === "string" && query.length > maxBytes / 4 && Buffer.byteLength(query) > maxBytes) {
        throw createGraphQLError(documentTooLarge(maxBytes).message, {
          extensions: { code: documentTooLarge(maxBytes).code, http: { status: 413 } },
        });
      }
    },
  };
}

/** Refuses a document nesting brackets deeper than `maxNesting` with HTTP 400, before it is parsed. */
export function useNestingLimit(maxNesting: number): Plugin {
  return {
    onParams({ params }) {
      const query = params.query;
      if (typeof query !== "string" || nestingDepth(query, maxNesting) <= maxNesting) return;
      throw createGraphQLError(
        `The document nests brackets, braces or parentheses more than ${maxNesting} deep (allowed: at most ${maxNesting})`,
        { extensions: { code: "DOCUMENT_TOO_DEEP", http: { status: 400 } } },
      );
    },
  };
}

/**
 * At most one `generate`/`submitGeneration` field per operation, counted through fragments: each queues a
 * generation, and a thousand aliases would queue a thousand.
 */
export function oneGenerationPerOperation(context: ValidationContext) {
  const fragments = fragmentsOf(context.getDocument());
  return {
    OperationDefinition(node: Parameters<typeof rootFields>[0]) {
      if (node.kind !== Kind.OPERATION_DEFINITION) return;
      const count = rootFields(node, fragments).filter((name) => GENERATION_FIELDS.has(name)).length;
      if (count > 1) {
        context.reportError(
          new GraphQLError(
            `At most one generation field (${[...GENERATION_FIELDS].join(", ")}) per operation; this one has ${count}`,
            { nodes: [node] },
          ),
        );
      }
    },
  };
}

/**
 * Request errors (a body, document or operation refused before execution: no `data`) are HTTP 400 whatever the
 * client accepts, and never carry the parser's own message (it quotes the body, e.g. for invalid JSON).
 */
function useRequestErrorStatus(): Plugin {
  return {
    onResultProcess({ result, setResult }) {
      if (Array.isArray(result) || !result || typeof result !== "object") return;
      const single = result as {
        data?: unknown;
        errors?: readonly GraphQLError[];
        extensions?: Record<string, unknown>;
      };
      if (!single.errors?.length || "data" in single) return;
      for (const error of single.errors) {
        const extensions = error.extensions as Record<string, unknown> | undefined;
        if (extensions && "originalError" in extensions) delete extensions.originalError;
      }
      const http = (single.extensions?.http ?? {}) as { status?: number };
      setResult({
        ...single,
        extensions: { ...single.extensions, http: { ...http, status: Math.max(http.status ?? 0, 400) } },
      });
    },
  };
}
