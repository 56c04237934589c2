/**
 * A worker process's side of Redis jobs: take jobs from the BullMQ queues, run them on this process's pipeline
 * cache, publish every step (with previews when a follower asked) and the end, stop at the next step when a
 * cancel arrives, and keep BullMQ's lock while running so a worker that dies (SIGKILL) has its job found stalled
 * and run again elsewhere, at most `attempts` times in all, then FAILED with a WorkerLostError.
 *
 * Routing (checkpoint affinity): every checkpoint has its own queue, and the choice is made by a free worker when
 * it looks for work, knowing what it holds. It takes first from the queues of checkpoints it has loaded; then
 * from another checkpoint's queue when no holder of that checkpoint is idle and either this worker holds nothing,
 * or nobody holds it and no idle worker holds nothing; any job that has waited `affinityGraceMs` goes to the
 * first free worker (which then loads its checkpoint).
 * A pick costs a few Redis round trips: the checkpoint list, one non-blocking fetch per held checkpoint, the
 * oldest waiting job of the others and the worker registry (one heartbeat key per worker, 10 s TTL).
 */
import { type Job, Worker } from "bullmq";
import { Redis } from "ioredis";
import type { Services } from "../../context.ts";
import { CancelledError, WorkerLostError } from "../../errors.ts";
import { encodeSmallRgbPng } from "../../image/png-small.ts";
import { latentsToRgb } from "../../pipelines/preview.ts";
import { runPlan } from "../generation.ts";
import { planGeneration } from "../generation-plan.ts";
import { Channels } from "./channels.ts";
import { encodeError, encodeResult, type JobPayload, type JobRecord, requestOf } from "./codec.ts";
import { type ControlMessage, type EventMessage, ended, JobStore, Keys } from "./store.ts";

export interface JobWorkerOptions {
  readonly url: string;
  /** Prefix of every key and queue (default `autopipe`). */
  readonly prefix?: string;
  /** Runs of one job at most, counting runs lost with their worker (`AUTOPIPE_JOB_ATTEMPTS`, default 2). */
  readonly attempts: number;
  /** BullMQ lock: a job whose worker stops renewing it for this long is stalled (default 30 000 ms). */
  readonly lockMs?: number;
  /** How often stalled jobs are looked for (default half of `lockMs`). */
  readonly stalledCheckMs?: number;
  /** How long a job waits for a busy holder of its checkpoint before another worker takes it (default 2 000 ms). */
  readonly affinityGraceMs?: number;
  /** false: take the oldest job of any checkpoint (the benchmark's baseline). Default true. */
  readonly affinity?: boolean;
}

/** What a worker tells the others (and the benchmark) about itself. */
export interface WorkerState {
  readonly id: string;
  readonly pid: number;
  /** Checkpoints (model ids) with graphs loaded, most recently used first. */
  readonly holds: readonly string[];
  readonly busy: boolean;
  /** Jobs run and checkpoint loads since start, per model id. */
  readonly jobs: number;
  readonly loads: Record<string, number>;
}

const HEARTBEAT_MS = 2000;
const IDLE_POLL_MS = 250;

type Deps = Pick<Services, "config" | "locator" | "pipelines" | "variants">;

export class JobWorker {
  readonly id = crypto.randomUUID();
  private readonly keys: Keys;
  private readonly redis: Redis;
  private readonly bull: Redis;
  private readonly channels: Channels;
  private readonly store: JobStore;
  private readonly workers = new Map<string, Worker>();
  private readonly running = new Map<string, { abort: AbortController; previews: Set<number> }>();
  private readonly loads: Record<string, number> = {};
  private jobs = 0;
  private busy = false;
  private closing = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private offs: (() => void)[] = [];

  constructor(
    private readonly deps: Deps,
    private readonly options: JobWorkerOptions,
  ) {
    this.keys = new Keys(options.prefix ?? "autopipe");
    const retryStrategy = (times: number) => Math.min(times * 200, 2000);
    this.redis = new Redis(options.url, { retryStrategy });
    this.redis.on("error", () => undefined);
    // BullMQ's workers need a connection that never gives up on a command.
    this.bull = new Redis(options.url, { maxRetriesPerRequest: null, retryStrategy });
    this.bull.on("error", () => undefined);
    const sub = new Redis(options.url, { retryStrategy });
    sub.on("error", () => undefined);
    this.channels = new Channels(sub);
    this.store = new JobStore(this.redis, this.keys, deps.config);
  }

  /** Whether Redis answers (for readiness checks). */
  ready(): boolean {
    return this.redis.status === "ready" && this.bull.status === "ready";
  }

  state(): WorkerState {
    return {
      id: this.id,
      pid: process.pid,
      holds: this.holds(),
      busy: this.busy,
      jobs: this.jobs,
      loads: { ...this.loads },
    };
  }

  async start(): Promise<void> {
    this.offs.push(await this.channels.on(this.keys.controlChannel, (raw) => this.control(raw)));
    this.offs.push(await this.channels.on(this.keys.wakeChannel, () => this.wake?.()));
    await this.beat();
    this.heartbeat = setInterval(() => void this.beat(), HEARTBEAT_MS);
    this.loop = this.run();
  }

  /** Stops taking jobs, lets the running one finish, and disconnects. */
  async close(): Promise<void> {
    this.closing = true;
    this.wake?.();
    await this.loop;
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const off of this.offs) off();
    await this.redis
      .multi()
      .del(this.keys.worker(this.id))
      .srem(this.keys.workers, this.id)
      .exec()
      .catch(() => undefined);
    await Promise.all([...this.workers.values()].map((w) => w.close(true).catch(() => undefined)));
    this.channels.close();
    this.redis.disconnect();
    this.bull.disconnect();
  }

  private async run(): Promise<void> {
    while (!this.closing) {
      let picked: { job: Job<JobPayload>; token: string; worker: Worker } | null = null;
      try {
        picked = await this.pick();
      } catch {
        // Redis is away: try again shortly.
      }
      if (!picked) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, IDLE_POLL_MS);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = null;
        continue;
      }
      this.busy = true;
      void this.beat();
      try {
        await this.process(picked.job, picked.token);
      } catch (error) {
        console.error(`job ${picked.job.id}:`, error);
      }
      this.busy = false;
      void this.beat();
    }
  }

  private holds(): string[] {
    return this.deps.pipelines
      .info()
      .filter((entry) => entry.components.length > 0)
      .map((entry) => entry.model);
  }

  private async pick(): Promise<{ job: Job<JobPayload>; token: string; worker: Worker } | null> {
    const routes = await this.redis.smembers(this.keys.routes);
    // Every checkpoint queue gets its BullMQ worker (and stalled-job checker), jobs waiting there or not: a job
    // whose worker died sits in `active` until some live worker checks that queue.
    for (const model of routes) this.worker(model);
    const held = this.holds();
    const take = async (model: string) => {
      const worker = this.worker(model);
      const token = `${this.id}:${crypto.randomUUID()}`;
      const job = (await worker.getNextJob(token, { block: false })) as Job<JobPayload> | undefined;
      return job ? { job, token, worker } : null;
    };
    if (this.options.affinity !== false) {
      for (const model of held) {
        if (!routes.includes(model)) continue;
        const got = await take(model);
        if (got) return got;
      }
    }
    const others = this.options.affinity === false ? routes : routes.filter((m) => !held.includes(m));
    const oldest = await Promise.all(
      others.map(async (model) => ({ model, at: await this.oldestWaiting(model) })),
    );
    const waiting = oldest
      .filter((o): o is { model: string; at: number } => o.at !== null)
      .sort((a, b) => a.at - b.at);
    if (waiting.length === 0) return null;
    const peers = this.options.affinity === false ? [] : await this.peers();
    const grace = this.options.affinityGraceMs ?? 2000;
    const idleEmptyPeer = peers.some((p) => !p.busy && p.holds.length === 0);
    for (const { model, at } of waiting) {
      const holders = peers.filter((p) => p.holds.includes(model));
      const idleHolder = holders.some((p) => !p.busy);
      // Leave the job to an idle holder, or (nobody holds it) to an idle worker that holds nothing; past the
      // grace, or without affinity, take it anyway.
      const mayTake =
        this.options.affinity === false ||
        Date.now() - at >= grace ||
        (!idleHolder && (held.length === 0 || (holders.length === 0 && !idleEmptyPeer)));
      if (!mayTake) continue;
      const got = await take(model);
      if (got) return got;
    }
    return null;
  }

  private async oldestWaiting(model: string): Promise<number | null> {
    // BullMQ's layout: the wait list takes new jobs on the left, the job hash holds its `timestamp`.
    const [job] = await this.redis.lrange(`${this.keys.prefix}:${this.keys.queueName(model)}:wait`, -1, -1);
    if (!job) return null;
    const at = await this.redis.hget(`${this.keys.prefix}:${this.keys.queueName(model)}:${job}`, "timestamp");
    return at === null ? null : Number(at);
  }

  /** The other live workers, from their heartbeat keys (a missing key: that worker is gone). */
  private async peers(): Promise<WorkerState[]> {
    const ids = (await this.redis.smembers(this.keys.workers)).filter((id) => id !== this.id);
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(ids.map((id) => this.keys.worker(id)));
    const out: WorkerState[] = [];
    for (const [i, raw] of raws.entries()) {
      if (raw) out.push(JSON.parse(raw) as WorkerState);
      else void this.redis.srem(this.keys.workers, ids[i]!);
    }
    return out;
  }

  private async beat(): Promise<void> {
    await this.redis
      .multi()
      .set(this.keys.worker(this.id), JSON.stringify(this.state()), "EX", 10)
      .sadd(this.keys.workers, this.id)
      .exec()
      .catch(() => undefined);
  }

  private worker(model: string): Worker {
    let worker = this.workers.get(model);
    if (!worker) {
      worker = new Worker(this.keys.queueName(model), null, {
        connection: this.bull,
        prefix: this.keys.prefix,
        autorun: false,
        lockDuration: this.options.lockMs ?? 30_000,
        stalledInterval: this.options.stalledCheckMs ?? (this.options.lockMs ?? 30_000) / 2,
        // A stalled job goes back to its queue until it was lost `attempts` times; the next pick fails it (typed).
        maxStalledCount: this.options.attempts,
      });
      worker.on("error", () => undefined);
      void worker.startStalledCheckTimer();
      this.workers.set(model, worker);
    }
    return worker;
  }

  private control(raw: string): void {
    const message = JSON.parse(raw) as ControlMessage;
    const run = this.running.get(message.id);
    if (!run) return;
    if (message.type === "cancel") run.abort.abort();
    else void this.loadPreviews(message.id, run.previews);
  }

  private async loadPreviews(id: string, into: Set<number>): Promise<void> {
    for (const k of await this.redis.smembers(this.keys.previews(id))) into.add(Number(k));
  }

  private async process(job: Job<JobPayload>, token: string): Promise<void> {
    const id = job.id!;
    const record = await this.store.read(id);
    if (!record || ended(record)) {
      // Expired, or ended elsewhere (cancelled while queued): nothing to run.
      await job.moveToCompleted(null, token, false).catch(() => undefined);
      return;
    }
    const finish = async (
      status: "SUCCEEDED" | "FAILED" | "CANCELLED",
      error: unknown,
      result?: JobRecord["result"],
    ) => {
      // The queue first: if our lock was lost (we were taken for dead), another run owns the job now.
      if (status === "SUCCEEDED" || status === "CANCELLED") await job.moveToCompleted(null, token, false);
      else await job.moveToFailed(error instanceof Error ? error : new Error(String(error)), token, false);
      // Tell the others what we hold and that we are free before anyone sees the end and submits again.
      this.busy = false;
      await this.beat();
      record.status = status;
      record.finishedAt = Date.now();
      record.result = result ?? null;
      record.error = error ? encodeError(error) : null;
      record.seq += 1;
      await this.store.finish(record);
    };
    if (job.stalledCounter >= this.options.attempts) {
      await finish("FAILED", new WorkerLostError(record.model, job.stalledCounter));
      return;
    }
    const run = { abort: new AbortController(), previews: new Set<number>() };
    this.running.set(id, run);
    const lockMs = this.options.lockMs ?? 30_000;
    // Renewed on a timer and at every step: a denoising loop whose session runs resolve at once may hold the
    // event loop (no timer fires) for many steps.
    // A renewal that finds the lock gone: this run was taken for dead and the job given to another worker, so
    // this one stops, silently (the other run owns the record now).
    let renewed = Date.now();
    let lost = false;
    const renewLock = () => {
      renewed = Date.now();
      job.extendLock(token, lockMs).then(
        (held) => {
          if (held) return;
          lost = true;
          run.abort.abort();
        },
        () => undefined,
      );
    };
    const renew = setInterval(renewLock, lockMs / 3);
    let events = Promise.resolve();
    try {
      if (await this.redis.exists(this.keys.cancel(id))) throw new CancelledError();
      record.status = "RUNNING";
      record.startedAt = Date.now();
      record.step = 0;
      record.perStepMs = null;
      record.attempts = job.stalledCounter + 1;
      record.seq += 1;
      await this.store.write(record, null, true);
      await this.loadPreviews(id, run.previews);
      // The named pipeline's config travels with the job: this worker need not know the pipeline.
      const plan = await planGeneration(this.deps, job.data.task, requestOf(job.data), {
        target: job.data.target ?? null,
      });
      const model = record.model;
      if (!this.holds().includes(model)) this.loads[model] = (this.loads[model] ?? 0) + 1;
      this.jobs += 1;
      const started = performance.now();
      const result = await runPlan(this.deps, plan, {
        signal: run.abort.signal,
        onStep: (event) => {
          if (Date.now() - renewed > lockMs / 3) renewLock();
          record.step = event.step;
          record.totalSteps = event.totalSteps;
          record.perStepMs = (performance.now() - started) / event.step;
          record.seq += 1;
          const copy = { ...record };
          let preview: Promise<EventMessage["preview"]> | null = null;
          if ([...run.previews].some((k) => k > 0 && event.step % k === 0)) {
            // Projected and encoded now (the step's arrays go after this call), published in order.
            const { pixels, width, height } = latentsToRgb(event.predictedLatents());
            const png = encodeSmallRgbPng(pixels, width, height).toString("base64");
            preview = Promise.resolve({ width, height, png });
          }
          events = events
            .then(async () => this.store.write(copy, preview ? await preview : null))
            .catch(() => undefined);
        },
      });
      await events;
      await finish("SUCCEEDED", null, encodeResult(result));
    } catch (error) {
      await events;
      if (lost) return;
      await finish(error instanceof CancelledError ? "CANCELLED" : "FAILED", error).catch(() => undefined);
    } finally {
      clearInterval(renew);
      this.running.delete(id);
    }
  }
}
