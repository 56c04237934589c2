/**
 * JSON as Python writes it. `json.dump` emits `NaN`, `Infinity` and `-Infinity` for non-finite floats (diffusers'
 * saved scheduler configs carry `"lambda_min_clipped": -Infinity`), which JSON.parse refuses. These bare tokens
 * are turned into numbers; the same words inside strings are left alone.
 */

const TOKENS = /"(?:[^"\\]|\\.)*"|-?Infinity|NaN/g;

/** JSON.parse that also accepts Python's NaN / Infinity / -Infinity. */
export function parsePythonJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    if (!/Infinity|NaN/.test(text)) throw error;
  }
  const marked = text.replace(TOKENS, (token) =>
    token.startsWith('"') ? token : `{"__nonFinite__":"${token}"}`,
  );
  return JSON.parse(marked, (_key, value) => {
    if (value && typeof value === "object" && !Array.isArray(value) && "__nonFinite__" in value) {
      const token = (value as { __nonFinite__: string }).__nonFinite__;
      return token === "NaN" ? Number.NaN : token.startsWith("-") ? -Infinity : Infinity;
    }
    return value;
  });
}
