/**
 * Generation jobs, in process: submit a planned request and get a job at once; it waits for a generation slot in
 * the one first-come-first-served queue that `generate` also uses, runs with progress reported per step, and ends
 * SUCCEEDED, FAILED or CANCELLED. Finished jobs are kept `jobTtlSeconds` and at most `maxJobs` (oldest finished
 * dropped first), so memory stays bounded. `JobService` is what the GraphQL layer sees; this is its in-process
 * backend.
 *
 * With a data dir (`AUTOPIPE_DATA_DIR`, job-store/) every job is written there when submitted,
 * when it starts and when it ends, its result's PNGs kept on disk (at most `jobResultsMaxBytes` of them) and read
 * back on demand. A new process on the same folder takes the jobs back: finished ones as they were, queued ones in
 * their order, and one that was running queued again, or FAILED with InterruptedError once it has started
 * `jobAttempts` times. A drain (graceful stop) leaves queued and running jobs as they are in the store, so they
 * run again after the restart; only cancelJob, a `generate` client going away, or a `generate` whose caller was
 * answered CancelledError ends a job as CANCELLED there.
 *
 * @example
 * const job = await services.jobs.submit(await planGeneration(services, "TEXT_TO_IMAGE", input), null);
 * for await (const event of (await services.jobs.updates(job.id, 5))!) console.log(event.job.progress.step);
 */
import { Repeater } from "@repeaterjs/repeater";
import type { Config } from "../config.ts";
import type { Services } from "../context.ts";
import { CancelledError } from "../errors.ts";
import { observeGeneration, observersOf } from "../observability/generation-log.ts";
import type { Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { Admission } from "./admission.ts";
import { runPlan } from "./generation.ts";
import { type GenerationPlan, planGeneration } from "./generation-plan.ts";
import { Job, type JobEvent, type JobSnapshot, type JobStatus, type RestoredJob } from "./job.ts";
import { DiskJobStore, type StoredJob } from "./job-store/disk-job-store.ts";
import { JobRecords } from "./job-store/job-records.ts";
import type { Lifecycle } from "./lifecycle.ts";
import type { PipelineCache } from "./pipeline-cache.ts";
import { requestOf } from "./redis/codec.ts";

export interface JobFilter {
  readonly status?: JobStatus | null;
  /** At most this many, newest first. */
  readonly first: number;
  /** Only jobs of this owner (undefined: everyone's). */
  readonly owner?: string | null;
}

/** The job operations the API offers, whatever runs the jobs. */
export interface JobService {
  /** Queues a planned generation; throws BusyError when the queue is full. */
  submit(plan: GenerationPlan, owner: string | null): Promise<JobSnapshot>;
  get(id: string): Promise<JobSnapshot | null>;
  list(filter: JobFilter): Promise<JobSnapshot[]>;
  /** Cancels a queued or running job; a finished one is returned unchanged; null when unknown. */
  cancel(id: string): Promise<JobSnapshot | null>;
  /**
   * The job's events: its current state at once, then every status change, queue move and step, ending with the
   * terminal state. Step events carry a preview every `previewEvery` steps (0: never). Null when unknown.
   */
  updates(id: string, previewEvery: number): Promise<AsyncIterable<JobEvent> | null>;
  /** Resolves with the job's terminal state. */
  wait(id: string): Promise<JobSnapshot>;
  /** Whether new jobs can be taken now (Redis reachable, for a remote backend); for readiness checks. */
  ready(): boolean;
  dispose(): Promise<void>;
}

type Deps = {
  readonly config: Pick<
    Config,
    | "jobTtlSeconds"
    | "maxJobs"
    | "logPrompts"
    | "dataDir"
    | "jobResultsMaxBytes"
    | "jobAttempts"
    | "maxUploadBytes"
  >;
  readonly admission: Admission;
  readonly pipelines: PipelineCache;
  /** Its cancel signal stops running jobs when a drain's grace period ends. */
  readonly lifecycle: Lifecycle;
  readonly logger: Logger;
  readonly metrics: Metrics;
} & Parameters<typeof runPlan>[0] &
  Parameters<typeof planGeneration>[0] &
  Pick<Services, "locator" | "variants">;

export class LocalJobs implements JobService {
  /** Insertion order = submission order. */
  private readonly jobs = new Map<string, Job>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly unlisten: () => void;

  private readonly observers: Parameters<typeof observeGeneration>[0];
  /** The embedded job store (job-store/job-records.ts); null when AUTOPIPE_DATA_DIR is `off`. */
  private readonly records: JobRecords | null;

  constructor(private readonly deps: Deps) {
    this.observers = observersOf(deps);
    this.unlisten = deps.admission.onChange(() => {
      for (const job of this.jobs.values()) job.queueMoved();
    });
    const store = deps.config.dataDir ? DiskJobStore.open(deps.config.dataDir) : null;
    this.records = store
      ? new JobRecords(store, {
          logger: deps.logger,
          stopping: () => deps.lifecycle.draining || deps.admission.closed,
        })
      : null;
    if (store && this.records) {
      // A line cut short by a kill mid-write (or damaged since): that job's last change is lost, nothing else.
      if (store.dropped > 0) {
        deps.logger.warn(
          { event: "job-store", dropped: store.dropped },
          `job store: ${store.dropped} unreadable journal line(s) dropped`,
        );
      }
      this.recover(this.records);
    }
    this.sweeper = setInterval(() => this.evict(), 10_000);
    this.sweeper.unref();
  }

  ready(): boolean {
    return true;
  }

  async submit(plan: GenerationPlan, owner: string | null): Promise<JobSnapshot> {
    const ticket = this.deps.admission.reserve();
    const id = crypto.randomUUID();
    const job = new Job(id, plan.task, plan.input.model, plan.totalSteps, owner, () => ticket.position());
    if (this.records) {
      // On disk before it is accepted: a job the caller was told of is never lost.
      try {
        await this.records.submitted(job, plan, this.deps.config);
      } catch (error) {
        ticket.cancel();
        ticket.release();
        throw error;
      }
    }
    this.jobs.set(id, job);
    job.abort.signal.addEventListener("abort", () => ticket.cancel(), { once: true });
    // A free slot was taken at once: the job is running from now on.
    if (ticket.position() === null) job.markRunning();
    void this.run(job, plan, ticket);
    this.evict();
    return job.snapshot();
  }

  async get(id: string): Promise<JobSnapshot | null> {
    this.evict();
    return this.jobs.get(id)?.snapshot() ?? null;
  }

  async list({ status, first, owner }: JobFilter): Promise<JobSnapshot[]> {
    this.evict();
    const out: JobSnapshot[] = [];
    const all = [...this.jobs.values()];
    for (let i = all.length - 1; i >= 0 && out.length < first; i--) {
      const job = all[i]!;
      if (status && job.status !== status) continue;
      if (owner !== undefined && job.owner !== owner) continue;
      out.push(job.snapshot());
    }
    return out;
  }

  async cancel(id: string): Promise<JobSnapshot | null> {
    const job = this.jobs.get(id);
    if (!job) return null;
    if (job.status === "QUEUED") {
      // The ticket leaves the queue now (abort → ticket.cancel) and the job ends here.
      job.abort.abort();
      job.cancelled(new CancelledError());
      await this.records?.written(job);
    } else if (!job.ended) {
      // Running: the generation throws CancelledError at its next step and frees its slot.
      job.abort.abort();
    }
    return job.snapshot();
  }

  async updates(id: string, previewEvery: number): Promise<AsyncIterable<JobEvent> | null> {
    const job = this.jobs.get(id);
    if (!job) return null;
    return new Repeater<JobEvent>(async (push, stop) => {
      // Snapshot and listen in one tick: nothing can happen in between.
      const first = job.snapshot();
      if (job.ended) {
        await push({ job: first, preview: null });
        stop();
        return;
      }
      const unlisten = job.listen({
        wantsPreview: (step) => previewEvery > 0 && step > 0 && step % previewEvery === 0,
        publish: (event) => {
          void push(event);
          if (event.job.status !== "QUEUED" && event.job.status !== "RUNNING") stop();
        },
      });
      await push({ job: first, preview: null });
      await stop;
      unlisten();
    });
  }

  async wait(id: string): Promise<JobSnapshot> {
    const job = this.jobs.get(id);
    if (!job) throw new Error(`unknown job ${id}`);
    return job.done;
  }

  async dispose(): Promise<void> {
    clearInterval(this.sweeper);
    this.unlisten();
    // What stops now is left in the store as it was: it runs again after a restart.
    if (this.records) this.records.disposing = true;
    const pending = [...this.jobs.values()].filter((job) => !job.ended);
    for (const job of pending) job.abort.abort();
    await Promise.all(pending.map((job) => job.done));
    await this.records?.close();
  }

  /**
   * Runs a job once it has a slot. `plan`: the plan, or (a job taken back after a restart) how to make it again.
   */
  private async run(
    job: Job,
    plan: GenerationPlan | (() => Promise<GenerationPlan>),
    ticket: ReturnType<Admission["reserve"]>,
  ): Promise<void> {
    try {
      await ticket.ready;
    } catch (error) {
      job.cancelled(error);
      await this.records?.written(job);
      return;
    }
    try {
      if (job.abort.signal.aborted) throw new CancelledError();
      if (job.status === "QUEUED") job.markRunning();
      // Its attempt is on disk before it runs: a stop from here on counts.
      await this.records?.written(job);
      const planned = typeof plan === "function" ? await plan() : plan;
      if (job.abort.signal.aborted) throw new CancelledError();
      // One log line and the metrics per generation; cancelled by cancelJob or by the end of a drain's grace.
      const signal = AbortSignal.any([job.abort.signal, this.deps.lifecycle.cancelSignal]);
      const result = await observeGeneration(this.observers, planned.task, planned.input, () =>
        runPlan(this.deps, planned, { signal, onStep: (event) => job.stepped(event) }),
      );
      // The PNGs on disk first; the job then keeps only where they are.
      const kept = this.records ? await this.records.saveResult(job, result) : null;
      job.succeed(result);
      if (kept) job.keepResult(kept);
    } catch (error) {
      if (error instanceof CancelledError) job.cancelled(error);
      else job.fail(error);
    }
    await this.records?.written(job);
    ticket.release();
    this.evict();
  }

  /** Takes back the jobs of the store (job-store/job-records.ts), in submission order. */
  private recover(records: JobRecords): void {
    for (const recovered of records.recover(this.deps.config.jobAttempts)) {
      const { stored } = recovered;
      if (recovered.kind === "requeue") {
        this.requeue(records.store, stored);
        continue;
      }
      const job = storedJob(stored, () => null, recovered.restored);
      this.jobs.set(job.id, job);
    }
    this.evict();
  }

  /** A job that was queued or running when the server stopped: back in the queue, in its old place. */
  private requeue(store: DiskJobStore, stored: StoredJob): void {
    const ticket = this.deps.admission.reserve({ overflow: true });
    const job = storedJob(stored, () => ticket.position(), {
      ...stored,
      status: "QUEUED",
      result: null,
      error: null,
    });
    this.jobs.set(job.id, job);
    job.abort.signal.addEventListener("abort", () => ticket.cancel(), { once: true });
    if (ticket.position() === null) job.markRunning();
    const replan = async () => {
      const payload = await store.loadPayload(stored);
      return planGeneration(this.deps, payload.task, requestOf(payload), { target: payload.target ?? null });
    };
    void this.run(job, replan, ticket);
  }

  /** Drops finished jobs past their TTL, then the oldest finished ones beyond `maxJobs`. */
  private evict(): void {
    const { jobTtlSeconds, maxJobs } = this.deps.config;
    const cutoff = Date.now() - jobTtlSeconds * 1000;
    const finished: Job[] = [];
    for (const job of this.jobs.values()) {
      const at = job.finishedAt;
      if (at === null) continue;
      if (at <= cutoff) this.drop(job.id);
      else finished.push(job);
    }
    finished.sort((a, b) => (a.finishedAt ?? 0) - (b.finishedAt ?? 0));
    const over = finished.splice(0, Math.max(finished.length - maxJobs, 0));
    // On disk, also at most jobResultsMaxBytes of PNGs: the oldest finished go first.
    const records = this.records;
    if (records) {
      const budget = this.deps.config.jobResultsMaxBytes;
      let bytes = records.store.resultBytes - over.reduce((sum, job) => sum + records.resultBytes(job.id), 0);
      while (bytes > budget && finished.length > 0) {
        const oldest = finished.shift() as Job;
        bytes -= records.resultBytes(oldest.id);
        over.push(oldest);
      }
    }
    for (const job of over) this.drop(job.id);
  }

  private drop(id: string): void {
    this.jobs.delete(id);
    this.records?.forget(id);
  }
}

/** The Job of a record of the store, in the state `restored` gives it. */
function storedJob(stored: StoredJob, queuePosition: () => number | null, restored: RestoredJob): Job {
  return new Job(
    stored.id,
    stored.task,
    stored.model,
    stored.totalSteps,
    stored.owner,
    queuePosition,
    restored,
  );
}
