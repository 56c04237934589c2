/**
 * Variable errors that say what is wrong without dumping what was sent. graphql-js reports a variable that does
 * not fit its type as `Variable "$input" got invalid value <the value, printed> at "input.inpainting"; Field
 * "maskImage" of required type "ImageInput!" was not provided.`, and the printed value of a multipart upload is the
 * File object's internals (`blobParts`, `_size`, ...). This plugin drops the printed value when it is an object or
 * a list, keeping the variable, the path into it and the reason: `Variable "$input" got an invalid value at
 * "input.inpainting": Field "maskImage" of required type "ImageInput!" was not provided.` A scalar value (a string
 * seed, say) is short and useful, so it stays.
 */
import { GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";

const HEAD = /^Variable "\$([A-Za-z_][A-Za-z0-9_]*)" got invalid value /;

/**
 * The message without its printed object value, or null when it is not a variable error or its value is a
 * scalar. Example: `Variable "$input" got invalid value { a: 1 }; Field "b" ...` → `Variable "$input" got an
 * invalid value: Field "b" ...`.
 */
export function withoutValueDump(message: string): string | null {
  const head = HEAD.exec(message);
  if (!head) return null;
  const start = head[0].length;
  if (message[start] !== "{" && message[start] !== "[") return null;
  // The printed value ends at the first ` at "` (the path) or `; ` (the reason) outside a string literal; string
  // literals are printed with JSON escapes, so a quote inside one is always escaped.
  let end = start;
  let inString = false;
  for (; end < message.length; end++) {
    const c = message[end];
    if (inString) {
      if (c === "\\") end++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (message.startsWith(' at "', end) || message.startsWith("; ", end)) break;
  }
  const tail = /^(?: at "([^"]*)")?; ([\s\S]*)$/.exec(message.slice(end));
  if (!tail) return null;
  const at = tail[1] === undefined ? "" : ` at "${tail[1]}"`;
  return `Variable "$${head[1]}" got an invalid value${at}: ${tail[2]}`;
}

function rewrite(errors: readonly GraphQLError[]): GraphQLError[] | null {
  let changed = false;
  const out = errors.map((error) => {
    const message = withoutValueDump(error.message);
    if (message === null) return error;
    changed = true;
    return new GraphQLError(message, {
      nodes: error.nodes,
      source: error.source,
      positions: error.positions,
      path: error.path,
      originalError: error.originalError,
      extensions: error.extensions,
    });
  });
  return changed ? out : null;
}

/** Rewrites variable errors of queries, mutations and subscriptions (see the module header). */
export function useVariableErrors(): Plugin {
  type Result = { errors?: readonly GraphQLError[] };
  const fix = (result: unknown, setResult: (r: never) => void) => {
    if (!result || typeof result !== "object" || Symbol.asyncIterator in result) return;
    const errors = (result as Result).errors;
    const fixed = errors ? rewrite(errors) : null;
    if (fixed) setResult({ ...(result as object), errors: fixed } as never);
  };
  return {
    onExecute: () => ({ onExecuteDone: ({ result, setResult }) => fix(result, setResult as never) }),
    onSubscribe: () => ({ onSubscribeResult: ({ result, setResult }) => fix(result, setResult as never) }),
  };
}
