/**
 * Reading a component's `config.json` the way the model modules need it: each field with the default its Python
 * class gives it, checked for type and range, and every refusal an `UnsupportedComponentError` naming the component,
 * the key and the value received. Keys a builder does not know are refused too (a config key that changes the model
 * and is silently ignored would give a wrong image), except the bookkeeping keys the caller lists as harmless.
 *
 * @example
 * const f = new ConfigFields("vae", raw, ["block_out_channels", "act_fn"]);
 * const channels = f.intList("block_out_channels", [64]);
 * f.oneOf("act_fn", ["silu"], "silu");
 */
import { UnsupportedComponentError } from "../errors.ts";

/** How a config value is written in messages (JSON, shortened). */
export function showValue(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

export class ConfigFields {
  constructor(
    readonly component: string,
    readonly raw: Readonly<Record<string, unknown>>,
    /** Every key the builder reads or knows to be harmless; keys starting with `_` are metadata and always allowed. */
    known: readonly string[],
  ) {
    const allowed = new Set(known);
    for (const key of Object.keys(raw)) {
      if (!key.startsWith("_") && !allowed.has(key)) {
        throw new UnsupportedComponentError(
          component,
          key,
          showValue(raw[key]),
          "not a key this builder knows",
        );
      }
    }
  }

  refuse(key: string, value: unknown, detail?: string): never {
    throw new UnsupportedComponentError(this.component, key, showValue(value), detail);
  }

  private value(key: string): unknown {
    return this.raw[key];
  }

  /** A positive integer (or ≥ `min`). */
  int(key: string, fallback: number, min = 1): number {
    const v = this.value(key) ?? fallback;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
      this.refuse(key, v, `not an integer ≥ ${min}`);
    }
    return v;
  }

  /** A non-empty list of positive integers. */
  intList(key: string, fallback: readonly number[]): number[] {
    const v = this.value(key) ?? fallback;
    if (
      !Array.isArray(v) ||
      v.length === 0 ||
      !v.every((x) => typeof x === "number" && Number.isInteger(x) && x > 0)
    ) {
      this.refuse(key, v, "not a non-empty list of positive integers");
    }
    return v as number[];
  }

  /** A non-empty list of strings, each one of `allowed`. */
  stringList(key: string, allowed: readonly string[], fallback: readonly string[]): string[] {
    const v = this.value(key) ?? fallback;
    if (!Array.isArray(v) || v.length === 0) this.refuse(key, v, "not a non-empty list");
    for (const item of v) {
      if (typeof item !== "string" || !allowed.includes(item)) {
        this.refuse(
          key,
          v,
          `not supported (each entry must be ${allowed.map((a) => `'${a}'`).join(" or ")})`,
        );
      }
    }
    return v as string[];
  }

  /** A finite number. */
  number(key: string, fallback: number): number {
    const v = this.value(key) ?? fallback;
    if (typeof v !== "number" || !Number.isFinite(v)) this.refuse(key, v, "not a finite number");
    return v;
  }

  /** A positive finite number (epsilons). */
  positive(key: string, fallback: number): number {
    const v = this.number(key, fallback);
    if (v <= 0) this.refuse(key, v, "not a positive number");
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.value(key) ?? fallback;
    if (typeof v !== "boolean") this.refuse(key, v, "not a boolean");
    return v;
  }

  /** A string among `allowed`. */
  oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
    const v = this.value(key) ?? fallback;
    if (typeof v !== "string" || !(allowed as readonly string[]).includes(v)) {
      this.refuse(key, v, `not supported (supported: ${allowed.map((a) => `'${a}'`).join(", ")})`);
    }
    return v as T;
  }

  /** A key that must be absent or null (a feature the builder does not implement). */
  mustBeNull(key: string, detail: string): void {
    const v = this.value(key);
    if (v !== undefined && v !== null) this.refuse(key, v, detail);
  }

  /** An integer or null/absent. */
  optionalInt(key: string): number | undefined {
    const v = this.value(key);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "number" || !Number.isInteger(v)) this.refuse(key, v, "not an integer");
    return v;
  }
}
