/**
 * One generation job: its state machine (QUEUED → RUNNING → SUCCEEDED | FAILED | CANCELLED), progress, result,
 * and the listeners that follow it. State changes are published as immutable snapshots, so every event carries
 * the job exactly as it was when the event happened (a slow subscriber still sees steps 1, 2, 3 … in order).
 */
import type { Task } from "../auto-pipeline/resolve.ts";
import { encodeSmallRgbPng } from "../image/png-small.ts";
import { latentsToRgb } from "../pipelines/preview.ts";
import type { StepEvent } from "../pipelines/run-context.ts";
import type { GeneratedPng, GenerationResult } from "./generation.ts";

export type JobStatus = "QUEUED" | "RUNNING" | "SUCCEEDED" | "FAILED" | "CANCELLED";

export const TERMINAL: ReadonlySet<JobStatus> = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);

export interface JobProgress {
  /** Denoising steps finished (0 until the first). */
  readonly step: number;
  readonly totalSteps: number;
  /** Milliseconds since the job started running (0 while queued). */
  readonly elapsedMs: number;
  /** Estimated milliseconds left, from the mean step time so far; null before the first step and once ended. */
  readonly etaMs: number | null;
}

/** A job as it was at one moment. */
export interface JobSnapshot {
  readonly id: string;
  readonly status: JobStatus;
  readonly task: Task;
  readonly model: string;
  /** Who submitted it (an API key's id), null on an open server. */
  readonly owner: string | null;
  readonly queuePosition: number | null;
  readonly progress: JobProgress;
  /** Times the job started running: 2 after a server stop re-queued it once (see InterruptedError). */
  readonly attempts: number;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  /** SUCCEEDED: the generation. */
  readonly result: GenerationResult | null;
  /** FAILED or CANCELLED: what ended it (an expected AutopipeError, or anything else, which is masked). */
  readonly error: unknown;
}

/** What a job publishes: its snapshot, and for step events, a way to get that step's preview. */
export interface JobEvent {
  readonly job: JobSnapshot;
  /** Set on step events when a listener asked for a preview of this step. */
  readonly preview: Promise<GeneratedPng> | null;
}

export interface JobListener {
  /** Whether this listener wants a preview with the event of `step`. */
  wantsPreview(step: number): boolean;
  publish(event: JobEvent): void;
}

/** A job read back from the job store after a restart: what it was when last written. */
export interface RestoredJob {
  readonly status: JobStatus;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly attempts: number;
  readonly result: GenerationResult | null;
  readonly error: unknown;
}

export class Job {
  status: JobStatus = "QUEUED";
  private step = 0;
  private totalSteps: number;
  private readonly created: number = Date.now();
  private attempts = 0;
  private started: number | null = null;
  private startedMono = 0;
  private finished: number | null = null;
  private result: GenerationResult | null = null;
  private error: unknown = null;
  private readonly listeners = new Set<JobListener>();
  private lastPosition: number | null = null;
  /** Aborted by cancel: a running generation stops at its next step. */
  readonly abort = new AbortController();
  /** Resolves when the job ends (never rejects). */
  /** Who waits for the end (see `done`); called once with the terminal snapshot, then forgotten. */
  private endWaiters: ((snapshot: JobSnapshot) => void)[] = [];

  constructor(
    readonly id: string,
    readonly task: Task,
    readonly model: string,
    totalSteps: number,
    readonly owner: string | null,
    private readonly queuePosition: () => number | null,
    restored?: RestoredJob,
  ) {
    this.totalSteps = totalSteps;
    if (restored) {
      this.created = restored.createdAt;
      this.attempts = restored.attempts;
      if (TERMINAL.has(restored.status)) {
        // Ended before the restart: as it was, its result read from the store.
        this.status = restored.status;
        this.started = restored.startedAt;
        this.finished = restored.finishedAt;
        this.result = restored.result;
        this.error = restored.error;
        this.step = restored.status === "SUCCEEDED" ? totalSteps : 0;
      }
    }
    this.lastPosition = queuePosition();
  }

  /**
   * Resolves when the job ends (never rejects), with its terminal snapshot: as it was published, with the result's
   * image bytes in memory. Nothing keeps that snapshot once the waiters have it (a kept result may then live on
   * disk only: see `keepResult`); a job already ended gives its snapshot now.
   */
  get done(): Promise<JobSnapshot> {
    if (this.ended) return Promise.resolve(this.snapshot());
    return new Promise((resolve) => this.endWaiters.push(resolve));
  }

  /** Times the job started running. */
  get attempt(): number {
    return this.attempts;
  }

  get startedAt(): number | null {
    return this.started;
  }

  get createdAt(): number {
    return this.created;
  }

  /**
   * Swaps the kept result for an equal one whose image bytes live elsewhere (on disk): what was published and
   * what `done` resolved with keep theirs.
   */
  keepResult(result: GenerationResult): void {
    if (this.status === "SUCCEEDED") this.result = result;
  }

  get finishedAt(): number | null {
    return this.finished;
  }

  get ended(): boolean {
    return TERMINAL.has(this.status);
  }

  snapshot(): JobSnapshot {
    const running = this.status === "RUNNING";
    const elapsedMs = this.started === null ? 0 : (this.finished ?? Date.now()) - this.started;
    const perStep = this.step > 0 ? (performance.now() - this.startedMono) / this.step : null;
    return {
      id: this.id,
      status: this.status,
      task: this.task,
      model: this.model,
      owner: this.owner,
      queuePosition: this.status === "QUEUED" ? this.queuePosition() : null,
      attempts: this.attempts,
      progress: {
        step: this.step,
        totalSteps: this.totalSteps,
        elapsedMs,
        etaMs: running && perStep !== null ? perStep * (this.totalSteps - this.step) : null,
      },
      createdAt: new Date(this.created).toISOString(),
      startedAt: this.started === null ? null : new Date(this.started).toISOString(),
      finishedAt: this.finished === null ? null : new Date(this.finished).toISOString(),
      result: this.result,
      error: this.error,
    };
  }

  listen(listener: JobListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The queue moved: publish the job's new position if it changed. */
  queueMoved(): void {
    if (this.status !== "QUEUED") return;
    const position = this.queuePosition();
    // null: it just got a slot, and the RUNNING event follows.
    if (position === null || position === this.lastPosition) return;
    this.lastPosition = position;
    this.publish(null);
  }

  markRunning(): void {
    this.status = "RUNNING";
    this.attempts += 1;
    this.step = 0;
    this.started = Date.now();
    this.startedMono = performance.now();
    this.publish(null);
  }

  /** A denoising step finished. */
  stepped(event: StepEvent): void {
    this.step = event.step;
    this.totalSteps = event.totalSteps;
    let preview: Promise<GeneratedPng> | null = null;
    if ([...this.listeners].some((l) => l.wantsPreview(event.step))) {
      // Projection and encoding of a latent-resolution image: tens of microseconds, done now (the step's
      // arrays can then go).
      const { pixels, width, height } = latentsToRgb(event.predictedLatents());
      const png = encodeSmallRgbPng(pixels, width, height);
      preview = Promise.resolve({ width, height, mimeType: "image/png" as const, png });
    }
    this.publish(preview);
  }

  succeed(result: GenerationResult): void {
    this.result = result;
    this.finish("SUCCEEDED");
  }

  fail(error: unknown): void {
    this.error = error;
    this.finish("FAILED");
  }

  cancelled(error: unknown): void {
    this.error = error;
    this.finish("CANCELLED");
  }

  private finish(status: JobStatus): void {
    if (this.ended) return;
    this.status = status;
    this.finished = Date.now();
    const snapshot = this.snapshot();
    this.publish(null, snapshot);
    this.listeners.clear();
    for (const resolve of this.endWaiters.splice(0)) resolve(snapshot);
  }

  private publish(preview: Promise<GeneratedPng> | null, snapshot = this.snapshot()): void {
    for (const listener of [...this.listeners]) {
      listener.publish({
        job: snapshot,
        preview: preview && listener.wantsPreview(snapshot.progress.step) ? preview : null,
      });
    }
  }
}
