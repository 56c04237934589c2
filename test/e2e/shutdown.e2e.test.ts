/**
 * Graceful shutdown of the real server process: SIGTERM with one generation running and one queued. Readiness
 * turns false, a new generation is refused with ShuttingDownError, the queued one gets CancelledError, the running
 * one finishes within AUTOPIPE_SHUTDOWN_GRACE_MS (or, past it, is cancelled at its next step), and the process
 * exits 0 after releasing its sessions.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type ServerProcess, startServerProcess, waitForGauge } from "../helpers/server-process.ts";

/** Whether a process id is alive (signal 0 probes without signalling). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const GENERATE = /* GraphQL */ `
  mutation ($steps: Int!) {
    generate(input: { textToImage: { model: "tiny-sd", prompt: "a cat", numInferenceSteps: $steps, guidanceScale: 1, seed: 7 } }) {
      __typename
      ... on Error { message }
      ... on Generation { images { width } }
    }
  }
`;

type Result = { generate: { __typename: string; message?: string; images?: { width: number }[] } };

describe("SIGTERM with a running and a queued generation", () => {
  let server: ServerProcess | undefined;
  afterEach(() => {
    if (server && server.child.exitCode === null) server.child.kill("SIGKILL");
    server = undefined;
  });

  async function startWithRunningAndQueued(graceMs: number, runningSteps: number) {
    server = await startServerProcess({
      AUTOPIPE_WARMUP: "tiny-sd",
      AUTOPIPE_MAX_CONCURRENT: "1",
      AUTOPIPE_MAX_STEPS: "1000",
      AUTOPIPE_SHUTDOWN_GRACE_MS: String(graceMs),
    });
    const s = server;
    await s.waitFor((line) => line.event === "ready");
    const running = s.gql<Result>(GENERATE, { steps: runningSteps });
    await waitForGauge(s.base, "autopipe_generations_running", 1);
    const queued = s.gql<Result>(GENERATE, { steps: 2 });
    await waitForGauge(s.base, "autopipe_generation_queue_length", 1);
    s.child.kill("SIGTERM");
    await s.waitFor((line) => line.event === "shutdown");
    return { s, running, queued };
  }

  it("finishes the running one within the grace period, cancels the queued one, refuses new ones, exits 0", async () => {
    const { s, running, queued } = await startWithRunningAndQueued(120_000, 40);

    // Draining: not ready, new generations refused with a typed error, the server still answers.
    const ready = await fetch(`${s.base}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ ready: false, phase: "draining" });
    expect((await fetch(`${s.base}/healthz`)).status).toBe(200);
    const refused = await s.gql<Result>(GENERATE, { steps: 2 });
    expect(refused.generate.__typename).toBe("ShuttingDownError");

    expect((await queued).generate.__typename).toBe("CancelledError");
    const finished = (await running).generate;
    expect(finished.__typename).toBe("Generation");
    expect(finished.images).toEqual([{ width: 64 }]);
    expect(await s.exited).toEqual({ code: 0, signal: null });
    const drained = s.lines.find((line) => line.event === "drained");
    expect(drained).toMatchObject({ cancelledRunning: false, running: 1, queued: 1 });
    expect(s.lines.at(-1)).toMatchObject({ event: "stopped", exitCode: 0 });
  });

  it("past the grace period the running one is cancelled at its next step", async () => {
    const { s, running, queued } = await startWithRunningAndQueued(300, 900);
    expect((await queued).generate.__typename).toBe("CancelledError");
    expect((await running).generate.__typename).toBe("CancelledError");
    expect(await s.exited).toEqual({ code: 0, signal: null });
    expect(s.lines.find((line) => line.event === "drained")).toMatchObject({ cancelledRunning: true });
  });
});

describe("npm start", () => {
  it("builds, runs plain node on dist/, and a SIGTERM to npm reaches the server (no orphan), exit 0", async () => {
    const npm = process.platform === "win32" ? "npm.cmd" : "npm";
    const s = await startServerProcess({}, { file: npm, args: ["start", "--silent"] });
    try {
      const listening = s.lines.find((line) => line.event === "listening");
      const serverPid = Number(listening?.pid);
      expect(serverPid).not.toBe(s.child.pid);
      expect(alive(serverPid)).toBe(true);
      expect((await fetch(`${s.base}/healthz`)).status).toBe(200);
      s.child.kill("SIGTERM");
      expect(await s.exited).toEqual({ code: 0, signal: null });
      // The signal reached the server itself: it started draining…
      expect(s.lines.find((line) => line.event === "shutdown" && line.pid === serverPid)).toBeDefined();
      // …and ended, leaving no orphan (npm may close its end of the log pipe before the server's last lines).
      for (let i = 0; i < 200 && alive(serverPid); i++) await new Promise((r) => setTimeout(r, 50));
      expect(alive(serverPid)).toBe(false);
    } finally {
      if (s.child.exitCode === null) s.child.kill("SIGKILL");
    }
  }, 180_000);
});
