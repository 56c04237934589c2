/**
 * Job records in Redis, shared by every API instance and worker: one JSON record per job, a sorted set of all
 * jobs (for `jobs`), one of queued jobs (queue positions) and one of finished jobs (the count limit); finished
 * records expire after `jobTtlSeconds`. Every write is published on the job's channel, so followers on any
 * instance see it; the key and channel names live here and nowhere else.
 */
import type { Redis } from "ioredis";
import type { Config } from "../../config.ts";
import type { JobSnapshot } from "../job.ts";
import { TERMINAL } from "../job.ts";
import type { JobFilter } from "../jobs.ts";
import { type JobRecord, snapshotOf } from "./codec.ts";

/** One published job event: the record as written, and a preview when a subscriber asked for one. */
export interface EventMessage {
  readonly record: JobRecord;
  readonly preview: { width: number; height: number; png: string } | null;
}

/** Messages on the control channel, read by every worker. */
export type ControlMessage = { type: "cancel"; id: string } | { type: "previews"; id: string };

/** Key and channel names under one prefix (tests and benchmarks use their own). */
export class Keys {
  constructor(readonly prefix: string) {}
  job = (id: string) => `${this.prefix}:job:${id}`;
  cancel = (id: string) => `${this.prefix}:cancel:${id}`;
  previews = (id: string) => `${this.prefix}:previews:${id}`;
  events = (id: string) => `${this.prefix}:events:${id}`;
  worker = (id: string) => `${this.prefix}:worker:${id}`;
  get jobs() {
    return `${this.prefix}:jobs`;
  }
  get queued() {
    return `${this.prefix}:queued`;
  }
  get finished() {
    return `${this.prefix}:finished`;
  }
  get routes() {
    return `${this.prefix}:routes`;
  }
  get workers() {
    return `${this.prefix}:workers`;
  }
  /** Published when the queue moves (a job joined, started or left): queued followers recompute positions. */
  get queueChannel() {
    return `${this.prefix}:queue`;
  }
  get controlChannel() {
    return `${this.prefix}:control`;
  }
  /** Published on every submit: idle workers look for work at once instead of at their next poll. */
  get wakeChannel() {
    return `${this.prefix}:wake`;
  }
  /** The BullMQ queue of one checkpoint (queue names allow no `:`). */
  queueName(model: string): string {
    return `ckpt-${Buffer.from(model).toString("hex")}`;
  }
}

export type StoreConfig = Pick<Config, "jobTtlSeconds" | "maxJobs">;

/** KEYS: finished, jobs; ARGV: expiry cutoff (ms), maxJobs, the job key prefix. Returns how many were dropped. */
const EVICT = `
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local drop = expired
local count = redis.call('ZCARD', KEYS[1]) - #expired
local max = tonumber(ARGV[2])
if count > max then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1], #expired, #expired + count - max - 1)) do
    table.insert(drop, id)
  end
end
for _, id in ipairs(drop) do
  redis.call('DEL', ARGV[3] .. id)
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
end
return #drop
`;

export class JobStore {
  constructor(
    readonly redis: Redis,
    readonly keys: Keys,
    private readonly config: StoreConfig,
  ) {}

  async read(id: string): Promise<JobRecord | null> {
    const raw = await this.redis.get(this.keys.job(id));
    return raw ? (JSON.parse(raw) as JobRecord) : null;
  }

  /** 1 for the oldest queued job; null when not queued. */
  async position(id: string): Promise<number | null> {
    const rank = await this.redis.zrank(this.keys.queued, id);
    return rank === null ? null : rank + 1;
  }

  async snapshot(record: JobRecord): Promise<JobSnapshot> {
    return snapshotOf(record, record.status === "QUEUED" ? await this.position(record.id) : null);
  }

  async queuedCount(): Promise<number> {
    return this.redis.zcard(this.keys.queued);
  }

  /** Stores a new QUEUED job. */
  async create(record: JobRecord): Promise<void> {
    record.at = Date.now();
    await this.redis
      .multi()
      .set(this.keys.job(record.id), JSON.stringify(record))
      .zadd(this.keys.jobs, record.createdAt, record.id)
      .zadd(this.keys.queued, record.createdAt, record.id)
      .sadd(this.keys.routes, record.model)
      .exec();
  }

  /** Writes a job that is still running (or just started) and publishes it; the caller bumps `seq` first. */
  async write(record: JobRecord, preview: EventMessage["preview"] = null, started = false): Promise<void> {
    record.at = Date.now();
    const message: EventMessage = { record, preview };
    const multi = this.redis.multi().set(this.keys.job(record.id), JSON.stringify(record));
    if (started) multi.zrem(this.keys.queued, record.id).publish(this.keys.queueChannel, record.id);
    await multi.publish(this.keys.events(record.id), JSON.stringify(message)).exec();
  }

  /** Writes a job's terminal state (the caller bumps `seq` first) (kept `jobTtlSeconds`), publishes it and applies the count limit. */
  async finish(record: JobRecord): Promise<void> {
    record.at = Date.now();
    const ttl = this.config.jobTtlSeconds;
    const key = this.keys.job(record.id);
    const multi = this.redis.multi();
    if (ttl > 0) multi.set(key, JSON.stringify(record), "EX", ttl);
    else multi.del(key).zrem(this.keys.jobs, record.id);
    const wasQueued = await this.redis.zrem(this.keys.queued, record.id);
    await multi
      .zadd(this.keys.finished, record.finishedAt ?? Date.now(), record.id)
      .del(this.keys.cancel(record.id), this.keys.previews(record.id))
      .publish(this.keys.events(record.id), JSON.stringify({ record, preview: null } satisfies EventMessage))
      .exec();
    if (wasQueued) await this.redis.publish(this.keys.queueChannel, record.id);
    await this.evict();
  }

  /**
   * Drops finished jobs past their TTL, then the oldest finished beyond `maxJobs`, in one script: every instance
   * and worker evicts after its writes, and two evictions that each counted before the other removed would
   * together drop more than the limit asks.
   */
  async evict(): Promise<void> {
    const { jobTtlSeconds, maxJobs } = this.config;
    await this.redis.eval(
      EVICT,
      2,
      this.keys.finished,
      this.keys.jobs,
      String(Date.now() - jobTtlSeconds * 1000),
      String(maxJobs),
      this.keys.job(""),
    );
  }

  async list({ status, first, owner }: JobFilter): Promise<JobSnapshot[]> {
    await this.evict();
    const out: JobSnapshot[] = [];
    const batch = 100;
    for (let start = 0; out.length < first; start += batch) {
      const ids = await this.redis.zrevrange(this.keys.jobs, start, start + batch - 1);
      if (ids.length === 0) break;
      const raws = await this.redis.mget(ids.map((id) => this.keys.job(id)));
      for (const [i, raw] of raws.entries()) {
        if (!raw) {
          // Expired with its key: forget it.
          void this.redis.zrem(this.keys.jobs, ids[i]!);
          continue;
        }
        const record = JSON.parse(raw) as JobRecord;
        if (status && record.status !== status) continue;
        if (owner !== undefined && record.owner !== owner) continue;
        out.push(await this.snapshot(record));
        if (out.length >= first) break;
      }
    }
    return out;
  }
}

export function ended(record: JobRecord): boolean {
  return TERMINAL.has(record.status);
}
