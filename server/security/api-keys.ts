/**
 * API keys and their scopes. Keys come from `AUTOPIPE_API_KEYS` (`key:scope` pairs, comma-separated) and/or a file
 * named by `AUTOPIPE_API_KEYS_FILE` (one pair a line, `#` comments). A presented key is compared with every
 * configured key through SHA-256 digests and `timingSafeEqual`, without an early exit, so the time taken says
 * nothing about how much of a key matched or which one. Keys are never logged: a key is known by its `keyId`, a
 * short digest prefix that is safe to show in logs and job listings.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Config } from "../config.ts";

/**
 * `generate`: generate, jobs, resolve, list. `admin`: also load/unload pipelines, named pipelines, every job, and
 * `/metrics`. `metrics`: `GET /metrics` only (a key for the Prometheus scraper), no GraphQL.
 */
export type Scope = "generate" | "admin" | "metrics";

export const SCOPES: readonly Scope[] = ["generate", "admin", "metrics"];

/** Who is calling: what may be exposed to resolvers and the job layer (never the key itself). */
export interface Auth {
  /** A stable, non-secret id of the key: `key-` and 12 hex digits of its SHA-256. */
  readonly keyId: string;
  readonly scope: Scope;
}

interface Entry extends Auth {
  readonly digest: Buffer;
}

export class KeyRing {
  private constructor(private readonly entries: readonly Entry[]) {}

  /** Parses `key:scope` pairs; `source` names where they came from in errors (never the key). */
  static parse(pairs: readonly { text: string; source: string }[]): KeyRing {
    const entries: Entry[] = [];
    for (const { text, source } of pairs) {
      const separator = text.lastIndexOf(":");
      const key = separator > 0 ? text.slice(0, separator).trim() : "";
      const scope = separator > 0 ? text.slice(separator + 1).trim() : "";
      if (!key || !SCOPES.includes(scope as Scope)) {
        throw new Error(`${source}: expected key:scope with scope ${SCOPES.join(" or ")}`);
      }
      if (/\s/.test(key)) throw new Error(`${source}: a key may not contain spaces`);
      const digest = sha256(key);
      if (entries.some((e) => e.digest.equals(digest))) throw new Error(`${source}: a key is listed twice`);
      entries.push({ digest, keyId: `key-${digest.toString("hex").slice(0, 12)}`, scope: scope as Scope });
    }
    return new KeyRing(entries);
  }

  /** Keys from `AUTOPIPE_API_KEYS` and the file named by `AUTOPIPE_API_KEYS_FILE` (read now; fails loudly). */
  static fromConfig(config: Pick<Config, "apiKeys" | "apiKeysFile">): KeyRing {
    const pairs: { text: string; source: string }[] = [];
    (config.apiKeys ?? "").split(",").forEach((text, i) => {
      if (text.trim()) pairs.push({ text, source: `AUTOPIPE_API_KEYS entry ${i + 1}` });
    });
    if (config.apiKeysFile) {
      let content: string;
      try {
        content = readFileSync(config.apiKeysFile, "utf8");
      } catch (error) {
        throw new Error(`AUTOPIPE_API_KEYS_FILE cannot be read (${(error as NodeJS.ErrnoException).code})`);
      }
      content.split(/\r?\n/).forEach((line, i) => {
        const text = line.trim();
        if (text && !text.startsWith("#"))
          pairs.push({ text, source: `AUTOPIPE_API_KEYS_FILE line ${i + 1}` });
      });
      if (pairs.length === 0) throw new Error("AUTOPIPE_API_KEYS_FILE holds no key:scope pair");
    }
    return KeyRing.parse(pairs);
  }

  /** True when no key is configured: the server is open. */
  get open(): boolean {
    return this.entries.length === 0;
  }

  get size(): number {
    return this.entries.length;
  }

  /** The key's identity, or null. Every entry is compared, whatever matched before. */
  verify(presented: string): Auth | null {
    const digest = sha256(presented);
    let found: Entry | null = null;
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.digest, digest) && !found) found = entry;
    }
    return found ? { keyId: found.keyId, scope: found.scope } : null;
  }
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}
