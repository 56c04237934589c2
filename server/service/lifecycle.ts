/**
 * The server's life from start to stop, as load balancers and orchestrators see it: `starting` (warm-up, not
 * ready), `ready`, `draining` (a stop signal came: not ready, new generations refused with ShuttingDownError,
 * queued ones cancelled, running ones given `AUTOPIPE_SHUTDOWN_GRACE_MS` to finish, then cancelled at their next
 * step), `stopped`. Anything that runs generations plugs in through three doors: `signalFor` combines a request's
 * own abort signal with the server-wide cancellation, `draining` (or `assertAccepting`) refuses new work, and
 * `onDrain` hooks run when draining starts (e.g. to send open streams a final event).
 */
import { ShuttingDownError } from "../errors.ts";
import type { Admission } from "./admission.ts";

export type Phase = "starting" | "ready" | "draining" | "stopped";

/** What a drain did. */
export interface DrainReport {
  /** Whether running generations outlasted the grace period and were cancelled. */
  readonly cancelledRunning: boolean;
  /** Generations running when the drain started. */
  readonly running: number;
  /** Generations waiting when the drain started (all cancelled). */
  readonly queued: number;
  readonly durationMs: number;
}

export class Lifecycle {
  private current: Phase = "starting";
  /** Aborted when running generations are to stop (grace period over, or `cancelNow`). */
  private readonly cancelAll = new AbortController();
  private readonly drainHooks: (() => void | Promise<void>)[] = [];
  private drained: Promise<DrainReport> | undefined;

  constructor(private readonly admission: Admission) {}

  get phase(): Phase {
    return this.current;
  }

  /** Ready to generate: warm-up done and not draining. `/readyz` answers 200 exactly then. */
  get ready(): boolean {
    return this.current === "ready";
  }

  /** A stop signal came: new generations are refused. */
  get draining(): boolean {
    return this.current === "draining" || this.current === "stopped";
  }

  /** Aborted when running generations must stop at their next step. */
  get cancelSignal(): AbortSignal {
    return this.cancelAll.signal;
  }

  /** Warm-up is done: readiness turns true (unless a drain already started). */
  markReady(): void {
    if (this.current === "starting") this.current = "ready";
  }

  /**
   * A request's abort signal combined with the server-wide one: a generation stops when its client goes away or
   * when the drain's grace period runs out.
   */
  signalFor(request: AbortSignal | undefined): AbortSignal {
    return request ? AbortSignal.any([request, this.cancelAll.signal]) : this.cancelAll.signal;
  }

  /** Throws ShuttingDownError while draining; for layers that accept work outside admission (e.g. jobs). */
  assertAccepting(): void {
    if (this.draining) throw new ShuttingDownError();
  }

  /** Registers work to run when draining starts (after admission closed, before waiting for running work). */
  onDrain(hook: () => void | Promise<void>): void {
    this.drainHooks.push(hook);
  }

  /**
   * Drains: readiness false, admission closed (new generations get ShuttingDownError, queued ones
   * CancelledError), drain hooks run, then waits for running generations up to `graceMs`; past it they are
   * cancelled at their next step and awaited. Idempotent: a second call returns the first drain's promise.
   */
  drain(graceMs: number): Promise<DrainReport> {
    this.drained ??= this.runDrain(graceMs);
    return this.drained;
  }

  /** Cancels running generations now (e.g. a second stop signal during the grace period). */
  cancelNow(): void {
    this.cancelAll.abort();
  }

  private async runDrain(graceMs: number): Promise<DrainReport> {
    const started = performance.now();
    this.current = "draining";
    const running = this.admission.active;
    const queued = this.admission.waiting;
    this.admission.close(new ShuttingDownError());
    await Promise.allSettled(this.drainHooks.map(async (hook) => hook()));
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<"grace-over">((resolve) => {
      timer = setTimeout(() => resolve("grace-over"), graceMs);
    });
    const cancelled = new Promise<"cancelled">((resolve) => {
      if (this.cancelAll.signal.aborted) resolve("cancelled");
      this.cancelAll.signal.addEventListener("abort", () => resolve("cancelled"), { once: true });
    });
    const first = await Promise.race([
      this.admission.idle().then(() => "idle" as const),
      graceOver,
      cancelled,
    ]);
    clearTimeout(timer);
    if (first !== "idle") {
      this.cancelAll.abort();
      await this.admission.idle();
    }
    this.current = "stopped";
    return { cancelledRunning: first !== "idle", running, queued, durationMs: performance.now() - started };
  }
}
