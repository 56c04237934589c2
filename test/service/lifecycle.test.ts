/**
 * Readiness and drain without a model: admission's drain hook (refuse new work with the given error, cancel the
 * waiting, tell when the running are done) and the lifecycle's phases, grace period and server-wide cancellation.
 */
import { describe, expect, it } from "vitest";
import { CancelledError, ShuttingDownError } from "../../server/errors.ts";
import { Admission } from "../../server/service/admission.ts";
import { Lifecycle } from "../../server/service/lifecycle.ts";

/** A unit of work that runs until `finish()` is called, or rejects with CancelledError when `signal` aborts. */
function work(signal?: AbortSignal) {
  let finish!: () => void;
  const done = new Promise<string>((resolve, reject) => {
    finish = () => resolve("finished");
    signal?.addEventListener("abort", () => reject(new CancelledError()), { once: true });
  });
  return { run: () => done, finish: () => finish() };
}

describe("Admission.close", () => {
  it("refuses new work with the given error, cancels the waiting, lets the running finish; idle() tells when", async () => {
    const admission = new Admission(1, 4);
    const first = work();
    const running = admission.run(first.run);
    const waiting = admission.run(async () => "never");
    expect([admission.active, admission.waiting]).toEqual([1, 1]);
    let idle = false;
    const idled = admission.idle().then(() => {
      idle = true;
    });
    admission.close(new ShuttingDownError());
    await expect(waiting).rejects.toBeInstanceOf(CancelledError);
    await expect(admission.run(async () => "new")).rejects.toBeInstanceOf(ShuttingDownError);
    expect(admission.closed).toBe(true);
    await Promise.resolve();
    expect(idle).toBe(false);
    first.finish();
    expect(await running).toBe("finished");
    await idled;
    expect(admission.active).toBe(0);
  });
});

describe("Lifecycle", () => {
  it("starting → ready → draining → stopped; running work finishing within the grace is not cancelled", async () => {
    const admission = new Admission(1, 1);
    const lifecycle = new Lifecycle(admission);
    expect([lifecycle.phase, lifecycle.ready, lifecycle.draining]).toEqual(["starting", false, false]);
    lifecycle.markReady();
    expect([lifecycle.phase, lifecycle.ready]).toEqual(["ready", true]);
    const job = work(lifecycle.signalFor(new AbortController().signal));
    const running = admission.run(job.run);
    const hooks: string[] = [];
    lifecycle.onDrain(() => void hooks.push("drain"));
    const drained = lifecycle.drain(60_000);
    expect(lifecycle.drain(60_000)).toBe(drained);
    expect([lifecycle.phase, lifecycle.ready, lifecycle.draining]).toEqual(["draining", false, true]);
    expect(() => lifecycle.assertAccepting()).toThrow(ShuttingDownError);
    lifecycle.markReady();
    expect(lifecycle.ready).toBe(false);
    await Promise.resolve();
    expect(hooks).toEqual(["drain"]);
    job.finish();
    expect(await running).toBe("finished");
    expect(await drained).toMatchObject({ cancelledRunning: false, running: 1, queued: 0 });
    expect(lifecycle.phase).toBe("stopped");
    expect(lifecycle.cancelSignal.aborted).toBe(false);
  });

  it("past the grace period, running work is cancelled through the combined signal", async () => {
    const admission = new Admission(1, 1);
    const lifecycle = new Lifecycle(admission);
    const client = new AbortController();
    const job = work(lifecycle.signalFor(client.signal));
    const running = admission.run(job.run);
    const report = await lifecycle.drain(20);
    await expect(running).rejects.toBeInstanceOf(CancelledError);
    expect(report).toMatchObject({ cancelledRunning: true, running: 1 });
    expect(client.signal.aborted).toBe(false);
  });

  it("cancelNow() during the grace period cancels at once", async () => {
    const admission = new Admission(1, 1);
    const lifecycle = new Lifecycle(admission);
    const running = admission.run(work(lifecycle.signalFor(undefined)).run);
    const drained = lifecycle.drain(60_000);
    lifecycle.cancelNow();
    await expect(running).rejects.toBeInstanceOf(CancelledError);
    expect(await drained).toMatchObject({ cancelledRunning: true });
  });
});
