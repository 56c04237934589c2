/**
 * The embedded job store (`AUTOPIPE_DATA_DIR`): what in-process jobs need to survive a restart, graceful or not.
 * One folder per process (a `lock` file holds the owner's pid):
 *
 *   jobs.journal        every job's last written state, one JSON line per change (journal.ts: fdatasync, group
 *                       commit, torn-tail tolerant, compacted)
 *   payloads/<id>.json  the request of a queued job whose payload is large (input images); small ones are inline
 *   results/<id>.<n>.png the PNG bytes of finished jobs, read back on demand (never held in memory)
 *
 * A job's state is written when it is submitted, when it starts running (with its attempt count), and when it ends;
 * step progress is not (it is re-run after a restart anyway). Files are written and synced before the journal line
 * that names them, and removed after the line that drops them, so the journal never names a missing file.
 *
 * @example
 * const store = DiskJobStore.open("./.data/autopipe");
 * for (const job of store.jobs()) console.log(job.id, job.status);
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { open, readFile, unlink } from "node:fs/promises";
import path from "node:path";
import type { Task } from "../../auto-pipeline/resolve.ts";
import { ConfigError } from "../../errors.ts";
import type { GeneratedPng, GenerationResult } from "../generation.ts";
import type { JobStatus } from "../job.ts";
import type { JobPayload } from "../redis/codec.ts";
import { Journal, syncFolder } from "./journal.ts";

/** A finished job's result as stored: PNG bytes in files beside the journal. */
export type StoredResult = Omit<GenerationResult, "seed" | "images"> & {
  readonly seed: string;
  readonly images: readonly (Omit<GeneratedPng, "png"> & { readonly file: string; readonly bytes: number })[];
};

export interface StoredError {
  readonly name: string;
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

/** One job as the journal keeps it. */
export interface StoredJob {
  readonly id: string;
  readonly task: Task;
  readonly model: string;
  readonly owner: string | null;
  readonly totalSteps: number;
  readonly createdAt: number;
  readonly status: JobStatus;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  /** Times it started running. */
  readonly attempts: number;
  /** Until it ends: the request to plan again after a restart (inline), or `payloadFile` holds it. */
  readonly payload: JobPayload | null;
  readonly payloadFile: string | null;
  readonly result: StoredResult | null;
  readonly error: StoredError | null;
}

type Entry = { readonly op: "put"; readonly job: StoredJob } | { readonly op: "del"; readonly id: string };

/** Payloads larger than this (JSON characters) go to their own file rather than into the journal. */
const INLINE_PAYLOAD_CHARS = 64 * 1024;

/** How `GeneratedImage.base64` reads an image kept on disk without blocking the main thread. */
export const READ_PNG = Symbol("readPng");

/** The PNG bytes of an image, in memory or read from the job store. */
export async function pngBytes(
  image: GeneratedPng & { [READ_PNG]?: () => Promise<Buffer> },
): Promise<Buffer> {
  return image[READ_PNG] ? image[READ_PNG]() : image.png;
}

export class DiskJobStore {
  private readonly byId = new Map<string, StoredJob>();
  private readonly journal: Journal<Entry>;
  private resultTotal = 0;
  /** Lines of the journal dropped when it was read (a torn last record). */
  readonly dropped: number;

  private constructor(private readonly dir: string) {
    mkdirSync(path.join(dir, "results"), { recursive: true });
    mkdirSync(path.join(dir, "payloads"), { recursive: true });
    lock(dir);
    const { journal, read } = Journal.open<Entry>(path.join(dir, "jobs.journal"), {
      compact: (entries) => {
        // Replay: the last `put` of each job wins; `del` forgets it. Order: first submission first.
        for (const entry of entries) {
          if (entry.op === "put") this.byId.set(entry.job.id, entry.job);
          else this.byId.delete(entry.id);
        }
        return this.live();
      },
      live: () => this.live(),
    });
    this.journal = journal;
    this.dropped = read.dropped;
    for (const job of this.byId.values()) this.resultTotal += resultBytes(job);
    this.removeOrphans();
  }

  /** Opens (creating it) the store in `dir`; throws ConfigError when another live process holds it. */
  static open(dir: string): DiskJobStore {
    return new DiskJobStore(dir);
  }

  /** Every stored job, in submission order. */
  jobs(): StoredJob[] {
    return [...this.byId.values()];
  }

  /** PNG bytes of finished jobs on disk. */
  get resultBytes(): number {
    return this.resultTotal;
  }

  /** Writes a job's state; resolves once it is on disk. */
  put(job: StoredJob): Promise<void> {
    const before = this.byId.get(job.id);
    this.resultTotal += resultBytes(job) - (before ? resultBytes(before) : 0);
    this.byId.set(job.id, job);
    const written = this.journal.append({ op: "put", job });
    // A payload file is not needed once the job ended.
    if (before?.payloadFile && !job.payloadFile)
      void written.then(() => removeFile(this.file(before.payloadFile!)));
    return written;
  }

  /** Forgets a job and removes its files. */
  async remove(id: string): Promise<void> {
    const job = this.byId.get(id);
    if (!job) return;
    this.byId.delete(id);
    this.resultTotal -= resultBytes(job);
    await this.journal.append({ op: "del", id });
    await Promise.all(filesOf(job).map((file) => removeFile(this.file(file))));
  }

  /** Where a new job's payload goes: inline when small, else in its own synced file. */
  async savePayload(id: string, payload: JobPayload): Promise<Pick<StoredJob, "payload" | "payloadFile">> {
    const text = JSON.stringify(payload);
    if (text.length <= INLINE_PAYLOAD_CHARS) return { payload, payloadFile: null };
    const file = path.join("payloads", `${id}.json`);
    await writeSynced(this.file(file), text);
    return { payload: null, payloadFile: file };
  }

  async loadPayload(job: StoredJob): Promise<JobPayload> {
    if (job.payload) return job.payload;
    if (!job.payloadFile) throw new Error(`job ${job.id} has no stored request`);
    return JSON.parse(await readFile(this.file(job.payloadFile), "utf8")) as JobPayload;
  }

  /** Writes a result's PNGs (synced) and returns what the journal keeps of it. */
  async saveResult(id: string, result: GenerationResult): Promise<StoredResult> {
    const images = await Promise.all(
      result.images.map(async (image, i) => {
        const file = path.join("results", `${id}.${i}.png`);
        await writeSynced(this.file(file), image.png);
        return {
          width: image.width,
          height: image.height,
          mimeType: image.mimeType,
          file,
          bytes: image.png.byteLength,
        };
      }),
    );
    syncFolder(path.join(this.dir, "results"));
    return { ...result, seed: result.seed.toString(), images };
  }

  /** A stored result whose images read their bytes from disk when asked (GraphQL reads them asynchronously). */
  resultOf(stored: StoredResult): GenerationResult {
    const images = stored.images.map(({ file: name, bytes: _bytes, ...image }) => {
      const file = this.file(name);
      return {
        ...image,
        get png() {
          return readFileSync(file);
        },
        [READ_PNG]: () => readFile(file),
      };
    });
    return { ...stored, seed: BigInt(stored.seed), images };
  }

  /** Writes out what is pending and releases the folder. */
  async close(): Promise<void> {
    await this.journal.close();
    rmSync(path.join(this.dir, "lock"), { force: true });
  }

  private live(): Entry[] {
    return [...this.byId.values()].map((job) => ({ op: "put" as const, job }));
  }

  private file(name: string): string {
    return path.join(this.dir, name);
  }

  /** Files no job names (written before a crash cut the journal line that would have named them). */
  private removeOrphans(): void {
    const named = new Set([...this.byId.values()].flatMap(filesOf));
    for (const folder of ["results", "payloads"]) {
      for (const name of readdirSync(path.join(this.dir, folder))) {
        const file = path.join(folder, name);
        if (!named.has(file)) rmSync(this.file(file), { force: true });
      }
    }
  }
}

function resultBytes(job: StoredJob): number {
  return job.result?.images.reduce((sum, image) => sum + image.bytes, 0) ?? 0;
}

function filesOf(job: StoredJob): string[] {
  return [...(job.payloadFile ? [job.payloadFile] : []), ...(job.result?.images.map((i) => i.file) ?? [])];
}

async function writeSynced(file: string, data: string | Buffer): Promise<void> {
  const handle = await open(file, "w");
  try {
    await handle.writeFile(data);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

async function removeFile(file: string): Promise<void> {
  await unlink(file).catch(() => undefined);
}

/** Takes the folder for this process: refused while the pid in `lock` is alive; a dead owner's lock is taken over. */
function lock(dir: string): void {
  const file = path.join(dir, "lock");
  if (existsSync(file)) {
    const pid = Number(readFileSync(file, "utf8").trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new ConfigError(
        `AUTOPIPE_DATA_DIR is in use by another autopipe process (pid ${pid}); give each process its own folder ` +
          "(if no autopipe process uses it, remove the file `lock` in it)",
      );
    }
    unlinkSync(file);
  }
  writeFileSync(file, `${process.pid}\n`, { flag: "wx" });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, but another user's.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
