/**
 * The embedded job store on real jobs and real files: the journal drops a torn last record and compacts itself;
 * jobs come back after the services are rebuilt on the same folder (results read from disk, byte-identical);
 * AUTOPIPE_MAX_JOBS and AUTOPIPE_JOB_RESULTS_MAX_BYTES remove finished jobs and their files; a finished job keeps its
 * PNGs on disk only; a second process on the same folder is refused; `off` keeps jobs in memory.
 */
import { appendFileSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createServices, type Services } from "../../server/context.ts";
import { ConfigError } from "../../server/errors.ts";
import { generate } from "../../server/service/generation.ts";
import { planGeneration, type TaskRequest } from "../../server/service/generation-plan.ts";
import { pngBytes, READ_PNG } from "../../server/service/job-store/disk-job-store.ts";
import { Journal } from "../../server/service/job-store/journal.ts";
import { testConfig } from "../helpers/services.ts";

const dirs: string[] = [];
const open: Services[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.dispose()));
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "autopipe-store-"));
  dirs.push(dir);
  return dir;
}

function services(dataDir: string, env: Record<string, string> = {}): Services {
  const s = createServices(testConfig({ AUTOPIPE_DATA_DIR: dataDir, AUTOPIPE_MAX_CONCURRENT: "1", ...env }));
  open.push(s);
  return s;
}

async function close(s: Services): Promise<void> {
  open.splice(open.indexOf(s), 1);
  await s.dispose();
}

const t2i = (seed: bigint): TaskRequest => ({
  model: "tiny-sd",
  prompt: "a cat",
  width: 32,
  height: 32,
  numInferenceSteps: 2,
  guidanceScale: 1,
  seed,
});

/** The result files, once no more than `count` are left (files go just after the journal forgets their job). */
async function resultFiles(dir: string, count: number): Promise<string[]> {
  for (;;) {
    const files = readdirSync(path.join(dir, "results")).sort();
    if (files.length <= count) return files;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function run(s: Services, seed: bigint) {
  const job = await s.jobs.submit(await planGeneration(s, "TEXT_TO_IMAGE", t2i(seed)), null);
  return s.jobs.wait(job.id);
}

describe("the journal", () => {
  it("drops a torn last record and keeps the whole ones", async () => {
    const file = path.join(await tempDir(), "j");
    const { journal } = Journal.open<{ n: number }>(file, { compact: (r) => r, live: () => [] });
    await journal.append({ n: 1 });
    await journal.append({ n: 2 });
    await journal.close();
    appendFileSync(file, '{"n":3,"trunc'); // a write cut short by SIGKILL
    const read = Journal.read<{ n: number }>(file);
    expect(read).toEqual({ records: [{ n: 1 }, { n: 2 }], dropped: 1 });
    const reopened = Journal.open<{ n: number }>(file, { compact: (r) => r, live: () => [] });
    await reopened.journal.close();
    expect(readFileSync(file, "utf8")).toBe('{"n":1}\n{"n":2}\n');
  });

  it("compacts itself: the file stays about as large as what is alive", async () => {
    const file = path.join(await tempDir(), "j");
    const live = [{ n: 0 }];
    const { journal } = Journal.open<{ n: number }>(file, {
      compact: (r) => r,
      live: () => live,
      minCompactLines: 50,
    });
    for (let i = 0; i < 500; i++) await journal.append({ n: i });
    await journal.close();
    expect(Journal.read(file).records.length).toBeLessThanOrEqual(51);
  });
});

describe("jobs in the data dir", () => {
  it("come back after a restart: finished with their PNGs read from disk, queued ones run in order", async () => {
    const dir = await tempDir();
    let s = services(dir);
    const finished = await run(s, 1n);
    expect(finished.status).toBe("SUCCEEDED");
    const png = Buffer.from(finished.result!.images[0]!.png);
    // Two jobs queued behind a long one; the services stop (drained) before they run.
    const long = await s.jobs.submit(
      await planGeneration(s, "TEXT_TO_IMAGE", { ...t2i(2n), numInferenceSteps: 150 }),
      null,
    );
    const a = await s.jobs.submit(await planGeneration(s, "TEXT_TO_IMAGE", t2i(3n)), "key-a");
    const b = await s.jobs.submit(await planGeneration(s, "TEXT_TO_IMAGE", t2i(4n)), null);
    await close(s);

    s = services(dir);
    const again = await s.jobs.get(finished.id);
    expect(again?.status).toBe("SUCCEEDED");
    expect(Buffer.compare(again!.result!.images[0]!.png, png)).toBe(0);
    expect((await s.jobs.get(a.id))?.owner).toBe("key-a");
    const [endA, endB, endLong] = await Promise.all([
      s.jobs.wait(a.id),
      s.jobs.wait(b.id),
      s.jobs.wait(long.id),
    ]);
    expect([endLong.status, endA.status, endB.status]).toEqual(["SUCCEEDED", "SUCCEEDED", "SUCCEEDED"]);
    // Original order: the long one (it was running: attempt 2) first, then a, then b.
    expect(endLong.attempts).toBe(2);
    expect(Date.parse(endLong.startedAt!)).toBeLessThanOrEqual(Date.parse(endA.startedAt!));
    expect(Date.parse(endA.startedAt!)).toBeLessThanOrEqual(Date.parse(endB.startedAt!));
    // The same seed gives the same image as a fresh run would.
    expect(Buffer.compare(endA.result!.images[0]!.png, (await run(s, 3n)).result!.images[0]!.png)).toBe(0);
  });

  it("keeps at most AUTOPIPE_MAX_JOBS finished jobs and AUTOPIPE_JOB_RESULTS_MAX_BYTES of PNGs, files included", async () => {
    const dir = await tempDir();
    let s = services(dir, { AUTOPIPE_MAX_JOBS: "2" });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await run(s, BigInt(i))).id);
    expect(await resultFiles(dir, 2)).toEqual([`${ids[2]}.0.png`, `${ids[3]}.0.png`].sort());
    expect(await s.jobs.get(ids[0]!)).toBeNull();
    const size = statSync(path.join(dir, "results", `${ids[3]}.0.png`)).size;
    await close(s);

    // A budget of one image: after the restart only the newest finished job is kept.
    s = services(dir, { AUTOPIPE_MAX_JOBS: "10", AUTOPIPE_JOB_RESULTS_MAX_BYTES: String(size + 10) });
    expect((await s.jobs.list({ first: 10 })).map((j) => j.id)).toEqual([ids[3]]);
    expect(await resultFiles(dir, 1)).toEqual([`${ids[3]}.0.png`]);
  });

  it("keeps a finished job's PNGs on disk, not in memory; generate still answers with AUTOPIPE_MAX_JOBS=0", async () => {
    const dir = await tempDir();
    const s = services(dir);
    const ended = await run(s, 1n);
    // What `wait` (generate) got: the bytes in memory. What the job keeps: where they are on disk.
    expect(READ_PNG in ended.result!.images[0]!).toBe(false);
    const kept = (await s.jobs.get(ended.id))!.result!.images[0]!;
    expect(READ_PNG in kept).toBe(true);
    expect(Buffer.compare(await pngBytes(kept), ended.result!.images[0]!.png)).toBe(0);
    const none = services(await tempDir(), { AUTOPIPE_MAX_JOBS: "0" });
    const direct = await generate(none, "TEXT_TO_IMAGE", t2i(1n));
    expect(Buffer.compare(direct.images[0]!.png, ended.result!.images[0]!.png)).toBe(0);
    const gone = await run(none, 1n);
    expect(gone.result!.images[0]!.png.subarray(1, 4).toString()).toBe("PNG");
    expect(await none.jobs.get(gone.id)).toBeNull();
  });

  it("refuses a second live process on the same folder; `off` keeps jobs in memory only", async () => {
    const dir = await tempDir();
    writeFileSync(path.join(dir, "lock"), `${process.ppid}\n`);
    expect(() => services(dir)).toThrow(ConfigError);
    expect(() => services(dir)).toThrow(/in use by another autopipe process/);
    const off = services("off");
    expect(off.config.dataDir).toBeUndefined();
    expect((await run(off, 1n)).status).toBe("SUCCEEDED");
    expect(testConfig({ AUTOPIPE_DATA_DIR: "" }).dataDir).toBe(path.resolve(".data", "autopipe"));
  });
});
