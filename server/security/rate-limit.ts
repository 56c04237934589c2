/**
 * Generations per minute per caller (`AUTOPIPE_RATE_LIMIT`): per API key, or per client address when the server
 * is open. rate-limiter-flexible's in-memory limiter keeps a fixed one-minute window per caller; a refusal is a
 * typed RateLimitedError with the time until the window frees a point.
 */
import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import { RateLimitedError } from "../errors.ts";
import type { Auth } from "./api-keys.ts";

export interface Caller {
  readonly auth: Auth | null;
  /** The client's address as the socket saw it ("unknown" when there is none, e.g. in-process calls). */
  readonly clientAddress: string;
}

export class GenerationRateLimit {
  private readonly limiter: RateLimiterMemory | undefined;

  /** `perMinute` undefined: no limit. */
  constructor(readonly perMinute: number | undefined) {
    this.limiter = perMinute ? new RateLimiterMemory({ points: perMinute, duration: 60 }) : undefined;
  }

  /** Takes one generation from the caller's allowance, or throws RateLimitedError. */
  async consume(caller: Caller): Promise<void> {
    if (!this.limiter) return;
    const key = caller.auth ? caller.auth.keyId : `address:${caller.clientAddress}`;
    try {
      await this.limiter.consume(key, 1);
    } catch (error) {
      if (error instanceof RateLimiterRes) throw new RateLimitedError(Math.max(1, error.msBeforeNext));
      throw error;
    }
  }
}
