/**
 * How deep a GraphQL document nests, found without parsing it. graphql-js parses selection sets, arguments, lists
 * and input objects by recursion, a few stack frames per level, so a list literal nested 2,000 deep (4 KB of
 * `[`) overflows the stack of a freshly started process before the token limit is reached (a warmed-up one has
 * smaller, optimised frames and gets further). This scanner walks the text once, in a loop, counting `{`, `[` and
 * `(` that are outside strings, block strings and comments, so that such a document is refused before the parser
 * recurses into it.
 */

/**
 * The deepest bracket nesting of `document` (any mix of `{`, `[`, `(`), or `stopAbove + 1` as soon as it goes past
 * `stopAbove` (the rest is not read). Unbalanced or malformed text is left to the parser: this only counts.
 * Example: `nestingDepth('{ a(x: [[1]]) { b } }')` is 4.
 */
export function nestingDepth(document: string, stopAbove = Number.POSITIVE_INFINITY): number {
  let depth = 0;
  let deepest = 0;
  const n = document.length;
  for (let i = 0; i < n; i++) {
    const c = document.charCodeAt(i);
    switch (c) {
      case 0x7b: // {
      case 0x5b: // [
      case 0x28: // (
        depth++;
        if (depth > deepest) {
          deepest = depth;
          if (deepest > stopAbove) return deepest;
        }
        break;
      case 0x7d: // }
      case 0x5d: // ]
      case 0x29: // )
        if (depth > 0) depth--;
        break;
      case 0x23: // # comment, to the end of the line
        while (i + 1 < n && !isLineEnd(document.charCodeAt(i + 1))) i++;
        break;
      case 0x22: // "
        i = document.startsWith('"""', i) ? endOfBlockString(document, i + 3) : endOfString(document, i + 1);
        break;
    }
  }
  return deepest;
}

function isLineEnd(c: number): boolean {
  return c === 0x0a || c === 0x0d;
}

/** Index of the closing quote of a string whose text starts at `i` (escapes skipped; a line end also ends it). */
function endOfString(text: string, i: number): number {
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x22 || isLineEnd(c)) return i;
  }
  return text.length;
}

/** Index of the last quote of the `"""` closing a block string whose text starts at `i` (`\"""` is escaped). */
function endOfBlockString(text: string, i: number): number {
  for (; i < text.length; i++) {
    if (text.startsWith('\\"""', i)) i += 3;
    else if (text.startsWith('"""', i)) return i + 2;
  }
  return text.length;
}
