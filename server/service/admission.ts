/**
 * Admission control for generations: at most `maxConcurrent` run at once and at most `maxQueue` wait, first come
 * first served; beyond that a request is refused at once with a BusyError carrying a retry hint, so load never
 * piles up unbounded. Every generation (a blocking `generate` or a submitted job) holds a `Ticket`: it tells its
 * place in the queue, resolves when a slot is free, and can leave the queue at any time. `close(error)` is the
 * drain hook: new requests are refused with `error`, waiting ones get CancelledError, and `idle()` tells when the
 * running ones are done.
 */
import { BusyError, CancelledError } from "../errors.ts";

/** A place in the queue, then a slot. */
export interface Ticket {
  /** Resolves when the ticket holds a slot; rejects with CancelledError if it left the queue first. */
  readonly ready: Promise<void>;
  /** 1 for the next ticket to get a slot; null once it holds one (or left). */
  position(): number | null;
  /** Leaves the queue (no-op once holding a slot). */
  cancel(): void;
  /** Gives the slot back (no-op unless holding one); call exactly when the work ends. */
  release(): void;
}

interface Waiter {
  start(): void;
  reject(error: Error): void;
}

export class Admission {
  private running = 0;
  private readonly queue: Waiter[] = [];
  private readonly listeners = new Set<() => void>();
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
   * Stops admitting: every later `reserve`/`run` is refused with `refuseWith` (e.g. ShuttingDownError) and every
   * waiting ticket is rejected with CancelledError. Running generations are left to finish; see `idle`.
   */
  close(refuseWith: Error): void {
    this.closedWith = refuseWith;
    for (const waiter of this.queue.splice(0)) waiter.reject(new CancelledError());
    this.changed();
    this.notifyIdle();
  }

  /** Resolves once no generation is running (at once when none is). */
  idle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Called whenever the queue moves (a ticket starts, leaves or joins): queue positions may have changed. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Takes a ticket, or throws BusyError when the queue is full. `overflow`: never refused for a full queue (work
   * accepted before a restart, taking its place back in order).
   */
  reserve(options: { overflow?: boolean } = {}): Ticket {
    if (this.closedWith) throw this.closedWith;
    if (this.running < this.maxConcurrent && this.queue.length === 0) {
      this.running += 1;
      return this.ticket(null);
    }
    if (this.queue.length >= this.maxQueue && !options.overflow) {
      // A slot frees about every average/maxConcurrent ms; the queue ahead must drain first.
      const retryAfterMs = Math.ceil(((this.queue.length + 1) * this.averageMs) / this.maxConcurrent);
      throw new BusyError(retryAfterMs);
    }
    let start!: () => void;
    let leave!: (error: Error) => void;
    const ready = new Promise<void>((resolve, reject) => {
      start = resolve;
      leave = reject;
    });
    // A caller that never awaits `ready` (it cancelled first) must not see an unhandled rejection.
    ready.catch(() => undefined);
    const waiter: Waiter = { start, reject: (error) => leave(error) };
    this.queue.push(waiter);
    this.changed();
    return this.ticket({ waiter, ready, leave });
  }

  /** Runs `work` when a slot is free; throws BusyError when the queue is full, CancelledError on abort. */
  async run<T>(work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) throw new CancelledError();
    const ticket = this.reserve();
    const onAbort = () => ticket.cancel();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await ticket.ready;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
    try {
      return await work();
    } finally {
      ticket.release();
    }
  }

  private ticket(queued: { waiter: Waiter; ready: Promise<void>; leave: (e: Error) => void } | null): Ticket {
    let holding = queued === null;
    let done = false;
    let started = performance.now();
    if (queued) {
      const start = queued.waiter.start;
      queued.waiter.start = () => {
        holding = true;
        started = performance.now();
        start();
      };
    }
    return {
      ready: queued?.ready ?? Promise.resolve(),
      position: () => {
        if (!queued || holding || done) return null;
        const index = this.queue.indexOf(queued.waiter);
        return index < 0 ? null : index + 1;
      },
      cancel: () => {
        if (!queued || holding || done) return;
        done = true;
        const index = this.queue.indexOf(queued.waiter);
        if (index >= 0) this.queue.splice(index, 1);
        queued.leave(new CancelledError());
        this.changed();
      },
      release: () => {
        if (!holding || done) return;
        done = true;
        this.averageMs = 0.8 * this.averageMs + 0.2 * (performance.now() - started);
        this.leave();
      },
    };
  }

  private leave(): void {
    const next = this.queue.shift();
    // The slot passes straight to the next waiter: `running` stays the same.
    if (next) next.start();
    else this.running -= 1;
    this.changed();
    this.notifyIdle();
  }

  private notifyIdle(): void {
    if (this.running === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}
