/**
 * Admission control for generations: at most `maxConcurrent` run at once and at most `maxQueue` wait; beyond that
 * a request is refused at once with a BusyError carrying a retry hint, so load never piles up unbounded. A waiting
 * request whose client goes away leaves the queue.
 */
import { BusyError, CancelledError } from "../errors.ts";

interface Waiter {
  resolve(): void;
}

export class Admission {
  private running = 0;
  private readonly queue: Waiter[] = [];
  /** Exponential moving average of how long a generation holds its slot, for the retry hint. */
  private averageMs = 1000;

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
  }
}
