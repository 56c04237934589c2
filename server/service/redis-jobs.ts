/**
 * Generation jobs over Redis and BullMQ, for several API instances and workers: `submit` stores the job's record
 * and adds its payload to the BullMQ queue of its checkpoint (workers that hold the checkpoint take from it
 * first: see redis/worker.ts); state, progress and results live in Redis, so any instance answers `job`, `jobs`,
 * `cancelJob` and `jobUpdates` for any job, and an API restart loses nothing. Events arrive over Redis pub/sub;
 * cancel is a flag plus a control message that the running worker turns into an abort at the next step. When
 * Redis cannot be reached, new jobs get a typed QueueUnavailableError and `ready()` is false until it returns.
 *
 * @example
 * const jobs = new RedisJobs({ config, url: "redis://127.0.0.1:6379" });
 * const job = await jobs.submit(await planGeneration(services, "TEXT_TO_IMAGE", input), null);
 */
import { Repeater } from "@repeaterjs/repeater";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import type { Config } from "../config.ts";
import { AutopipeError, BusyError, CancelledError, QueueUnavailableError } from "../errors.ts";
import type { GenerationPlan } from "./generation-plan.ts";
import type { JobEvent, JobSnapshot } from "./job.ts";
import type { JobFilter, JobService } from "./jobs.ts";
import { Channels } from "./redis/channels.ts";
import { encodeError, type JobRecord, payloadOf } from "./redis/codec.ts";
import { type ControlMessage, type EventMessage, ended, JobStore, Keys } from "./redis/store.ts";

export interface RedisJobsOptions {
  readonly config: Pick<Config, "jobTtlSeconds" | "maxJobs" | "maxQueue" | "maxUploadBytes">;
  readonly url: string;
  /** Prefix of every key and queue (default `autopipe`). */
  readonly prefix?: string;
}

/** How often a follower re-reads a record, in case a published event was missed (e.g. across a reconnect). */
const POLL_MS = 1000;

export class RedisJobs implements JobService {
  private readonly redis: Redis;
  private readonly channels: Channels;
  private readonly store: JobStore;
  private readonly keys: Keys;
  private readonly queues = new Map<string, Queue>();
  private readonly stops = new Set<() => void>();

  constructor(private readonly options: RedisJobsOptions) {
    this.keys = new Keys(options.prefix ?? "autopipe");
    // Commands fail at once while Redis is away (no offline queue): new jobs get a typed error, not a hang.
    this.redis = new Redis(options.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
    this.redis.on("error", () => undefined); // reconnects by itself; ready() tells
    const sub = new Redis(options.url, { retryStrategy: (times) => Math.min(times * 200, 2000) });
    sub.on("error", () => undefined);
    this.channels = new Channels(sub);
    this.store = new JobStore(this.redis, this.keys, options.config);
  }

  /** Whether Redis answers (for readiness checks). */
  ready(): boolean {
    return this.redis.status === "ready";
  }

  async submit(plan: GenerationPlan, owner: string | null): Promise<JobSnapshot> {
    await this.connected();
    try {
      const [queued, workers] = await Promise.all([
        this.store.queuedCount(),
        this.redis.scard(this.keys.workers),
      ]);
      // Each live worker takes one job at once; beyond that, maxQueue may wait.
      if (queued >= this.options.config.maxQueue + Math.max(workers, 1))
        throw new BusyError(1000 * (queued + 1));
      const payload = await payloadOf(plan, this.options.config);
      const record: JobRecord = {
        id: crypto.randomUUID(),
        status: "QUEUED",
        task: plan.task,
        model: plan.input.model,
        owner,
        step: 0,
        totalSteps: plan.totalSteps,
        createdAt: Date.now(),
        startedAt: null,
        finishedAt: null,
        perStepMs: null,
        attempts: 0,
        seq: 1,
        at: 0,
        result: null,
        error: null,
      };
      await this.store.create(record);
      try {
        await this.queue(record.model).add("generate", payload, {
          jobId: record.id,
          attempts: 1, // generation errors are deterministic; only a lost worker is retried (stalled jobs)
          removeOnComplete: true,
          removeOnFail: 1000,
        });
      } catch (error) {
        record.status = "FAILED";
        record.finishedAt = Date.now();
        record.error = encodeError(new QueueUnavailableError());
        record.seq += 1;
        await this.store.finish(record).catch(() => undefined);
        throw error;
      }
      await this.redis
        .multi()
        .publish(this.keys.wakeChannel, record.id)
        .publish(this.keys.queueChannel, record.id)
        .exec();
      return await this.store.snapshot(record);
    } catch (error) {
      if (error instanceof AutopipeError || this.ready()) throw error;
      throw new QueueUnavailableError();
    }
  }

  async get(id: string): Promise<JobSnapshot | null> {
    await this.connected();
    const record = await this.store.read(id);
    return record ? this.store.snapshot(record) : null;
  }

  async list(filter: JobFilter): Promise<JobSnapshot[]> {
    await this.connected();
    return this.store.list(filter);
  }

  async cancel(id: string): Promise<JobSnapshot | null> {
    await this.connected();
    const record = await this.store.read(id);
    if (!record) return null;
    if (ended(record)) return this.store.snapshot(record);
    // The flag stops a worker that takes the job from now on; the message stops the one running it.
    const message: ControlMessage = { type: "cancel", id };
    await this.redis
      .multi()
      .set(this.keys.cancel(id), "1", "EX", 24 * 3600)
      .publish(this.keys.controlChannel, JSON.stringify(message))
      .exec();
    if (record.status === "QUEUED") {
      // Removal fails while a worker holds the job's lock: then that worker ends it.
      const removed = await this.queue(record.model).remove(id);
      if (removed === 1) {
        const current = (await this.store.read(id)) ?? record;
        current.status = "CANCELLED";
        current.finishedAt = Date.now();
        current.error = encodeError(new CancelledError());
        current.seq += 1;
        await this.store.finish(current);
        return this.store.snapshot(current);
      }
    }
    return (await this.get(id)) ?? this.store.snapshot(record);
  }

  async updates(id: string, previewEvery: number): Promise<AsyncIterable<JobEvent> | null> {
    await this.connected();
    if (!(await this.store.read(id))) return null;
    const wants = (step: number) => previewEvery > 0 && step > 0 && step % previewEvery === 0;
    return new Repeater<JobEvent>(async (push, stop) => {
      this.stops.add(stop);
      let lastPosition: number | null = null;
      let lastRecord: JobRecord | null = null;
      // Events are delivered one after another (a snapshot may wait for its queue position).
      let chain = Promise.resolve();
      const deliver = (record: JobRecord, preview: EventMessage["preview"]) => {
        chain = chain.then(async () => {
          if (lastRecord && record.seq <= lastRecord.seq) return;
          lastRecord = record;
          const job = await this.store.snapshot(record);
          lastPosition = job.queuePosition;
          const png =
            preview && wants(record.step)
              ? { ...preview, mimeType: "image/png" as const, png: Buffer.from(preview.png, "base64") }
              : null;
          await push({ job, preview: png ? Promise.resolve(png) : null });
          if (ended(record)) stop();
        });
      };
      const queueMoved = () => {
        chain = chain.then(async () => {
          if (lastRecord?.status !== "QUEUED") return;
          const position = await this.store.position(id);
          if (position === null || position === lastPosition) return;
          lastPosition = position;
          await push({ job: await this.store.snapshot(lastRecord), preview: null });
        });
      };
      const unfollow = await this.follow(id, deliver);
      const offQueue = await this.channels.on(this.keys.queueChannel, queueMoved);
      if (previewEvery > 0) {
        const message: ControlMessage = { type: "previews", id };
        await this.redis
          .multi()
          .sadd(this.keys.previews(id), previewEvery)
          .expire(this.keys.previews(id), 24 * 3600)
          .publish(this.keys.controlChannel, JSON.stringify(message))
          .exec();
      }
      const current = await this.store.read(id);
      if (current) deliver(current, null);
      else stop();
      await stop;
      unfollow();
      offQueue();
      this.stops.delete(stop);
    });
  }

  async wait(id: string): Promise<JobSnapshot> {
    await this.connected();
    const first = await this.store.read(id);
    if (!first) throw new Error(`unknown job ${id}`);
    if (ended(first)) return this.store.snapshot(first);
    return new Promise<JobSnapshot>((resolve, reject) => {
      let done = false;
      let unfollow: (() => void) | undefined;
      const stopWaiting = () => {
        done = true;
        unfollow?.();
        this.stops.delete(stopWaiting);
        reject(new CancelledError());
      };
      this.stops.add(stopWaiting);
      void this.follow(id, (record) => {
        if (done || !ended(record)) return;
        done = true;
        unfollow?.();
        this.stops.delete(stopWaiting);
        resolve(this.store.snapshot(record));
      }).then(async (off) => {
        unfollow = off;
        if (done) return off();
        // It may have ended before the subscription was in place.
        const current = await this.store.read(id);
        if (current && ended(current) && !done) {
          done = true;
          off();
          this.stops.delete(stopWaiting);
          resolve(this.store.snapshot(current));
        }
      }, reject);
    });
  }

  async dispose(): Promise<void> {
    for (const stop of [...this.stops]) stop();
    await Promise.all([...this.queues.values()].map((queue) => queue.close().catch(() => undefined)));
    this.channels.close();
    this.redis.disconnect();
  }

  /**
   * Calls `onRecord` with every record published for the job, and with the stored one when it ended without a
   * published event reaching us (polled every POLL_MS). Resolves once subscribed.
   */
  private async follow(
    id: string,
    onRecord: (record: JobRecord, preview: EventMessage["preview"]) => void,
  ): Promise<() => void> {
    let lastMessage = Date.now();
    const off = await this.channels.on(this.keys.events(id), (raw) => {
      lastMessage = Date.now();
      const message = JSON.parse(raw) as EventMessage;
      onRecord(message.record, message.preview);
    });
    const poll = setInterval(() => {
      // Only when the channel was quiet: a poll must not overtake step events still in flight.
      if (Date.now() - lastMessage < POLL_MS) return;
      this.store.read(id).then(
        (record) => record && ended(record) && onRecord(record, null),
        () => undefined,
      );
    }, POLL_MS);
    poll.unref();
    return () => {
      clearInterval(poll);
      off();
    };
  }

  /** Waits briefly for a connection that is being made; throws QueueUnavailableError when there is none. */
  private async connected(): Promise<void> {
    if (this.ready()) return;
    if (this.redis.status === "connecting" || this.redis.status === "connect") {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2000);
        this.redis.once("ready", () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    if (!this.ready()) throw new QueueUnavailableError();
  }

  private queue(model: string): Queue {
    let queue = this.queues.get(model);
    if (!queue) {
      queue = new Queue(this.keys.queueName(model), { connection: this.redis, prefix: this.keys.prefix });
      queue.on("error", () => undefined);
      this.queues.set(model, queue);
    }
    return queue;
  }
}
