/**
 * An append-only journal: one JSON record a line in one file, each append made durable with fdatasync before its
 * promise resolves. Appends that arrive while a write is in flight are written and synced together (group commit),
 * so concurrent submissions share one sync. Reading tolerates a torn tail: a process killed mid-write leaves a last
 * line without its newline (or a line that does not parse), which is dropped, and the file is rewritten clean.
 * Compaction rewrites the file from the live records (a temporary file, synced, renamed over the journal, the
 * folder synced), so the file holds about what is alive, not every change ever made.
 *
 * @example
 * const { journal, records } = Journal.open<Entry>(path.join(dir, "jobs.journal"), () => live());
 * await journal.append({ op: "put", job });
 */
import {
  closeSync,
  existsSync,
  fdatasync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from "node:fs";
import path from "node:path";

/** What reading a journal found. */
export interface JournalRead<T> {
  readonly records: T[];
  /** Lines dropped: a torn last line, or lines that do not parse. */
  readonly dropped: number;
}

interface Pending {
  readonly line: string;
  resolve(): void;
  reject(error: unknown): void;
}

/** Rewrite once this many lines were appended beyond the live records (and at least `minCompactLines`). */
const COMPACT_FACTOR = 4;

export class Journal<T> {
  private fd: number;
  private queue: Pending[] = [];
  private flushing: Promise<void> | null = null;
  /** Lines in the file now. */
  private lines: number;
  private closed = false;

  private constructor(
    private readonly file: string,
    /** The records that make up the current state, for compaction. */
    private readonly live: () => T[],
    private readonly minCompactLines: number,
  ) {
    this.fd = openSync(file, "a");
    this.lines = 0;
  }

  /**
   * Reads the journal (missing: empty), rewrites it from `compact(records)` (dropping a torn tail and what is no
   * longer alive), and opens it for appending.
   */
  static open<T>(
    file: string,
    options: {
      /** The live records to keep, from those read. */
      compact: (records: T[]) => T[];
      live: () => T[];
      minCompactLines?: number;
    },
  ): { journal: Journal<T>; read: JournalRead<T>; kept: T[] } {
    const read = Journal.read<T>(file);
    const kept = options.compact(read.records);
    Journal.rewrite(file, kept);
    const journal = new Journal<T>(file, options.live, options.minCompactLines ?? 1000);
    journal.lines = kept.length;
    return { journal, read, kept };
  }

  /** Every whole record of the file, in order; a last line without newline or any unparsable line is dropped. */
  static read<T>(file: string): JournalRead<T> {
    if (!existsSync(file)) return { records: [], dropped: 0 };
    const text = readFileSync(file, "utf8");
    const parts = text.split("\n");
    // The piece after the last newline is a record whose write was cut short (or nothing).
    const tail = parts.pop() ?? "";
    let dropped = tail.trim() === "" ? 0 : 1;
    const records: T[] = [];
    for (const line of parts) {
      if (line.trim() === "") continue;
      try {
        records.push(JSON.parse(line) as T);
      } catch {
        dropped += 1;
      }
    }
    return { records, dropped };
  }

  /** Appends one record; resolves once it is on disk (fdatasync), rejects when it could not be written. */
  append(record: T): Promise<void> {
    if (this.closed) return Promise.reject(new Error("the job journal is closed"));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ line: `${JSON.stringify(record)}\n`, resolve, reject });
      this.kick();
    });
  }

  /** Starts the writer unless it runs; it runs until the queue is empty. */
  private kick(): void {
    if (this.flushing) return;
    this.flushing = this.flush().finally(() => {
      this.flushing = null;
      // Appended after the writer's last look at the queue, before it ended.
      if (this.queue.length > 0) this.kick();
    });
  }

  /** Waits for every append made so far, then closes the file. */
  async close(): Promise<void> {
    while (this.flushing) await this.flushing;
    this.closed = true;
    closeSync(this.fd);
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0);
      try {
        // The write itself on this thread (a copy into the page cache: microseconds), the sync on the thread
        // pool: one hop there and back instead of two, which is what a submit waits for on a loaded machine.
        writeAllSync(this.fd, Buffer.from(batch.map((p) => p.line).join("")));
        await new Promise<void>((resolve, reject) =>
          fdatasync(this.fd, (error) => (error ? reject(error) : resolve())),
        );
        for (const pending of batch) pending.resolve();
      } catch (error) {
        for (const pending of batch) pending.reject(error);
      }
      this.lines += batch.length;
      const live = this.live();
      if (this.lines > Math.max(this.minCompactLines, COMPACT_FACTOR * live.length)) this.compact(live);
    }
  }

  /** Rewrites the file from the live records and appends to the new one from now on. */
  private compact(live: T[]): void {
    closeSync(this.fd);
    Journal.rewrite(this.file, live);
    this.fd = openSync(this.file, "a");
    this.lines = live.length;
  }

  /** Writes `records` to a temporary file, syncs it, renames it over `file` and syncs the folder. */
  private static rewrite<T>(file: string, records: readonly T[]): void {
    const temporary = `${file}.tmp`;
    const fd = openSync(temporary, "w");
    try {
      const text = records.map((r) => `${JSON.stringify(r)}\n`).join("");
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, file);
    syncFolder(path.dirname(file));
  }
}

/** fsync of a folder, so that a rename or a new file in it survives a power cut. */
export function syncFolder(folder: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(folder, "r");
    fsyncSync(fd);
  } catch {
    // Some file systems refuse to sync a folder; the rename itself is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function writeAllSync(fd: number, buffer: Buffer): void {
  let offset = 0;
  while (offset < buffer.byteLength) offset += writeSync(fd, buffer, offset);
}
