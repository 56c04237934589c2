/**
 * What the in-process jobs (../jobs.ts) write to the embedded job store, and when: a live `Job` as the `StoredJob`
 * the journal keeps, on submit (with the request to plan it again), when it starts (its attempt), when it ends (its
 * result's PNGs in files first), and what comes back after a restart: finished jobs as they were, and jobs that
 * were queued or running, to be queued again — or FAILED with InterruptedError once they have started
 * `jobAttempts` times. A job stopped by a drain or by `dispose` is not written as cancelled (the store keeps it
 * queued or running, so it runs after the restart), unless it is a `generate` whose caller was answered.
 *
 * @example
 * const records = new JobRecords(DiskJobStore.open(dir), { logger, stopping: () => lifecycle.draining });
 * await records.submitted(job, plan, config); // before the caller hears of the job
 */
import type { Config } from "../../config.ts";
import { InterruptedError } from "../../errors.ts";
import type { Logger } from "../../observability/logger.ts";
import type { GenerationResult } from "../generation.ts";
import type { GenerationPlan } from "../generation-plan.ts";
import type { Job, RestoredJob } from "../job.ts";
import { decodeError, encodeError, payloadOf } from "../redis/codec.ts";
import type { DiskJobStore, StoredJob } from "./disk-job-store.ts";

/** A job read back at start-up: finished (`restored` holds it all) or to be queued again. */
export type Recovered =
  | { readonly kind: "finished"; readonly stored: StoredJob; readonly restored: RestoredJob }
  | { readonly kind: "requeue"; readonly stored: StoredJob };

export class JobRecords {
  /** What each job was last written as. */
  private readonly stored = new Map<string, StoredJob>();
  /** Jobs of `generate` (a caller holds its response open for them). */
  private readonly synchronous = new Set<string>();
  /** Set by `dispose`: what stops from now on stays in the store as it was. */
  disposing = false;

  constructor(
    readonly store: DiskJobStore,
    private readonly deps: {
      readonly logger: Logger;
      /** Whether the server is draining (its stops are not cancellations to keep). */
      readonly stopping: () => boolean;
    },
  ) {}

  /** The stored jobs in submission order, sorted into finished and to-be-queued (see the module header). */
  recover(jobAttempts: number): Recovered[] {
    return this.store.jobs().map((stored): Recovered => {
      this.stored.set(stored.id, stored);
      const terminal = stored.status !== "QUEUED" && stored.status !== "RUNNING";
      if (!terminal && !(stored.status === "RUNNING" && stored.attempts >= jobAttempts)) {
        return { kind: "requeue", stored };
      }
      let state = stored;
      if (!terminal) {
        // It was running when the server stopped, and has no attempt left.
        const error = encodeError(new InterruptedError(stored.attempts));
        state = {
          ...stored,
          status: "FAILED",
          finishedAt: Date.now(),
          payload: null,
          payloadFile: null,
          error,
        };
        void this.put(state).catch(() => undefined);
      }
      return {
        kind: "finished",
        stored: state,
        restored: {
          ...state,
          result: state.result ? this.store.resultOf(state.result) : null,
          error: state.error ? decodeError(state.error) : null,
        },
      };
    });
  }

  /** A new job: on disk, with the request to plan it again, before the caller hears of it. */
  async submitted(job: Job, plan: GenerationPlan, config: Pick<Config, "maxUploadBytes">): Promise<void> {
    const payload = await payloadOf(plan, config);
    await this.write(job, await this.store.savePayload(job.id, payload));
    if (plan.synchronous) this.synchronous.add(job.id);
  }

  /** The PNGs of a result, on disk; the job then keeps this result (bytes read on demand). */
  async saveResult(job: Job, result: GenerationResult): Promise<GenerationResult> {
    const kept = await this.store.saveResult(job.id, result);
    this.stored.set(job.id, { ...(this.stored.get(job.id) as StoredJob), result: kept });
    return this.store.resultOf(kept);
  }

  /** Writes the job's state as it is now (see the module header for what is not written); never throws. */
  async written(job: Job): Promise<void> {
    // A `generate` whose caller was answered CancelledError is not run again: it ends here as it ended there.
    const kept = job.status === "CANCELLED" && !this.synchronous.has(job.id);
    if (kept && ((!job.abort.signal.aborted && this.deps.stopping()) || this.disposing)) return;
    await this.write(job, job.ended ? { payload: null, payloadFile: null } : {}).catch((error) => {
      this.deps.logger.error(
        { event: "job-store", id: job.id, error: (error as Error).message },
        "job store write failed",
      );
    });
  }

  /** PNG bytes of a job's stored result. */
  resultBytes(id: string): number {
    return this.stored.get(id)?.result?.images.reduce((sum, image) => sum + image.bytes, 0) ?? 0;
  }

  /** Forgets a job (evicted): its line and its files go. */
  forget(id: string): void {
    this.synchronous.delete(id);
    if (!this.stored.delete(id)) return;
    this.store.remove(id).catch((error) => {
      this.deps.logger.error(
        { event: "job-store", id, error: (error as Error).message },
        "job store write failed",
      );
    });
  }

  async close(): Promise<void> {
    await this.store.close();
  }

  /** Writes a job's state, keeping what is not given from its last written version. */
  private write(job: Job, fields: Partial<StoredJob>): Promise<void> {
    const snapshot = job.snapshot();
    const before = this.stored.get(job.id);
    return this.put({
      id: job.id,
      task: job.task,
      model: job.model,
      owner: job.owner,
      totalSteps: before?.totalSteps ?? snapshot.progress.totalSteps,
      createdAt: job.createdAt,
      status: snapshot.status,
      startedAt: job.startedAt,
      finishedAt: job.finishedAt,
      attempts: job.attempt,
      payload: before?.payload ?? null,
      payloadFile: before?.payloadFile ?? null,
      result: before?.result ?? null,
      error: snapshot.error ? encodeError(snapshot.error) : null,
      ...fields,
    });
  }

  private put(stored: StoredJob): Promise<void> {
    this.stored.set(stored.id, stored);
    return this.store.put(stored);
  }
}
