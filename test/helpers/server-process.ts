/**
 * Runs the real server entry point (server/main.ts) as its own process on a free port, with the bundled
 * checkpoints, reading its JSON log lines back: for what only a process shows (signals, exit codes, start-up).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { EMPTY_HF_CACHE, REPO_MODELS } from "./services.ts";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface LogLine {
  readonly level: string;
  readonly event?: string;
  readonly msg: string;
  readonly [key: string]: unknown;
}

export interface ServerProcess {
  readonly child: ChildProcess;
  /** Base URL, e.g. http://127.0.0.1:PORT */
  readonly base: string;
  readonly lines: LogLine[];
  /** Resolves with the first log line matching, or rejects after `timeoutMs`. */
  waitFor(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Resolves with the exit code (null when killed by a signal) and the signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  gql<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Promise<T>;
}

/**
 * Starts `node --import tsx server/main.ts` (or `command`) with PORT=0 and waits for its "listening" line. Its job
 * store is a fresh temporary folder unless `env` names one (AUTOPIPE_DATA_DIR).
 */
export async function startServerProcess(
  env: Record<string, string> = {},
  command: { file: string; args: string[] } = {
    file: process.execPath,
    args: ["--import", "tsx", "server/main.ts"],
  },
): Promise<ServerProcess> {
  // A job store of its own, removed when the process has ended (unless the caller named one).
  const dataDir = env.AUTOPIPE_DATA_DIR ? null : mkdtempSync(path.join(os.tmpdir(), "autopipe-data-"));
  const child = spawn(command.file, command.args, {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      PORT: "0",
      AUTOPIPE_MODELS_DIR: REPO_MODELS,
      HF_HUB_CACHE: EMPTY_HF_CACHE,
      LOG_LEVEL: "info",
      ...(dataDir ? { AUTOPIPE_DATA_DIR: dataDir } : {}),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: LogLine[] = [];
  const waiters: { match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];
  let stderr = "";
  let pending = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    pending += chunk;
    const parts = pending.split("\n");
    pending = parts.pop() ?? "";
    for (const text of parts) {
      if (!text.trim().startsWith("{")) continue;
      const line = JSON.parse(text) as LogLine;
      lines.push(line);
      for (const waiter of waiters.filter((w) => w.match(line))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    // "close", not "exit": every log line is read by then.
    child.once("close", (code, signal) => {
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
      resolve({ code, signal });
    }),
  );
  const waitFor = (match: (line: LogLine) => boolean, timeoutMs = 60_000) => {
    const seen = lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise<LogLine>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`no matching log line within ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`));
      }, timeoutMs);
      waiters.push({
        match,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
    });
  };
  const listening = await Promise.race([
    waitFor((line) => line.event === "listening", 150_000),
    exited.then(({ code }) => {
      throw new Error(`server exited (${code}) before listening; stderr: ${stderr.slice(-2000)}`);
    }),
  ]);
  const base = `http://127.0.0.1:${listening.port}`;
  return {
    child,
    base,
    lines,
    waitFor,
    exited,
    async gql(query, variables) {
      const response = await fetch(`${base}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json()) as { data: unknown; errors?: unknown };
      if (body.errors) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
      return body.data as never;
    },
  };
}

/** Polls `/metrics` until the named gauge (no labels) has `value`. */
export async function waitForGauge(base: string, name: string, value: number, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await (await fetch(`${base}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name} `));
    if (line && Number(line.split(" ")[1]) === value) return;
    if (Date.now() > deadline) throw new Error(`${name} did not reach ${value}; last: ${line}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
