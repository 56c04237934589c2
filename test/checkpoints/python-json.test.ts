import { describe, expect, it } from "vitest";
import { parsePythonJson } from "../../server/checkpoints/python-json.ts";

describe("parsePythonJson", () => {
  it("reads Python's non-finite floats", () => {
    expect(parsePythonJson('{"a": -Infinity, "b": Infinity, "c": NaN, "d": [1, -Infinity]}')).toEqual({
      a: -Infinity,
      b: Infinity,
      c: Number.NaN,
      d: [1, -Infinity],
    });
  });

  it("leaves the words alone inside strings", () => {
    expect(parsePythonJson('{"s": "NaN and -Infinity \\" Infinity", "x": NaN}')).toEqual({
      s: 'NaN and -Infinity " Infinity',
      x: Number.NaN,
    });
  });

  it("still refuses what is not JSON", () => {
    expect(() => parsePythonJson("{ nope")).toThrow(SyntaxError);
    expect(() => parsePythonJson('{"a": Infinityx}')).toThrow(SyntaxError);
  });
});
