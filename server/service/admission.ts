/**
 * Admission control for generations: at most `maxConcurrent` run at once and at most `maxQueue` wait; beyond that
 * a request is refused at once with a BusyError carrying a retry hint, so load never piles up unbounded. A waiting
 * request whose client goes away leaves the queue. `close(error)` is the drain hook: new requests are refused with
 * `error`, waiting ones get CancelledError, and `idle()` tells when the running ones are done.
 */
import { BusyError, CancelledError } from "../errors.ts";

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

export class Admission {
  private running = 0;
  private readonly queue: Waiter[] = [];
  /** Exponential moving average of how long a generation holds its slot, for the retry hint. */
  private averageMs = 1000;
  /** Set by `close`: what every new request is refused with. */
  private closedWith: Error | undefined;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(
    private readonly maxConcurrent: number,
    private readonly maxQueue: number,
  ) {}

  get active(): number {
    return this.running;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** Whether `close` was called. */
  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /**
   * Stops admitting: every later `run` is refused with `refuseWith` (e.g. ShuttingDownError) and every waiting
   * request is rejected with CancelledError. Running generations are left to finish; see `idle`.
   */
  close(refuseWith: Error): void {
    this.closedWith = refuseWith;
    for (const waiter of this.queue.splice(0)) waiter.reject(new CancelledError());
    this.notifyIdle();
  }

  /** Resolves once no generation is running (at once when none is). */
  idle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Runs `work` when a slot is free; throws BusyError when the queue is full. */
  async run<T>(work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.enter(signal);
    const started = performance.now();
    try {
      return await work();
    } finally {
      this.averageMs = 0.8 * this.averageMs + 0.2 * (performance.now() - started);
      this.leave();
    }
  }

  private enter(signal?: AbortSignal): Promise<void> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    if (signal?.aborted) return Promise.reject(new CancelledError());
    if (this.running < this.maxConcurrent) {
      this.running += 1;
      return Promise.resolve();
    }
    if (this.queue.length >= this.maxQueue) {
      // A slot frees about every average/maxConcurrent ms; the queue ahead must drain first.
      const retryAfterMs = Math.ceil(((this.queue.length + 1) * this.averageMs) / this.maxConcurrent);
      return Promise.reject(new BusyError(retryAfterMs));
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        reject: (error) => {
          signal?.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      const onAbort = () => {
        const index = this.queue.indexOf(waiter);
        if (index >= 0) this.queue.splice(index, 1);
        reject(new CancelledError());
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.queue.push(waiter);
    });
  }

  private leave(): void {
    const next = this.queue.shift();
    // The slot passes straight to the next waiter: `running` stays the same.
    if (next) next.resolve();
    else this.running -= 1;
    this.notifyIdle();
  }

  private notifyIdle(): void {
    if (this.running === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}
