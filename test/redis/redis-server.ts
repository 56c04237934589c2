/**
 * A real `redis-server` for the Redis job tests, started on a free port with no persistence and stopped after;
 * worker child processes (`node --import tsx server/worker.ts`) pointed at it. Without redis-server installed
 * the tests are skipped with a message saying how to install it, except under CI, where they fail.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { EMPTY_HF_CACHE } from "../helpers/services.ts";

export const HAS_REDIS = spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0;

export const NEEDS_REDIS =
  "these tests need redis-server (Debian/Ubuntu: apt-get update && apt-get install -y redis-server)";

if (!HAS_REDIS) {
  console.warn(`test/redis skipped: ${NEEDS_REDIS}`);
  if (process.env.CI) throw new Error(`CI: ${NEEDS_REDIS}; .ci/run installs it`);
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Waits until the child prints a line matching `pattern` (or fails when it exits first). */
function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs = 180_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}: ${seen}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      const match = seen.match(pattern);
      if (match) {
        clearTimeout(timer);
        child.stdout?.off("data", onData);
        resolve(match[0]);
      }
    };
    child.stdout?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`exited (${code}) before ${pattern}: ${seen}`)));
  });
}

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** Stops it (SIGTERM, then waits). */
  stop(): Promise<void>;
  /** Starts it again on the same port (after `stop`). */
  restart(): Promise<void>;
  /** SIGKILL, then waits: no shutdown save. */
  kill(): Promise<void>;
}

/**
 * Starts redis-server on a free port, with no persistence, or with `persistence.dir` the settings README "Scaling
 * out" asks for jobs to survive a Redis restart (append-only file, fsync on every write).
 */
export async function startRedis(persistence: { dir?: string } = {}): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess;
  const store = persistence.dir
    ? ["--dir", persistence.dir, "--appendonly", "yes", "--appendfsync", "always", "--save", ""]
    : ["--save", "", "--appendonly", "no"];
  const launch = async () => {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", ...store], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await waitForLine(child, /Ready to accept connections/);
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
    restart: launch,
    kill: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    },
  };
}

export interface WorkerProcess {
  readonly child: ChildProcess;
  /** GET on its health server. */
  metrics(): Promise<{ id: string; loads: Record<string, number>; jobs: number; holds: string[] }>;
  ready(): Promise<number>;
  /** SIGTERM (the running job finishes) and wait for exit. */
  stop(): Promise<void>;
  kill(): Promise<void>;
}

/** Starts `server/worker.ts` in a child process on the given Redis and models directory. */
export async function startWorker(env: Record<string, string>): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "server/worker.ts"], {
    cwd: ROOT,
    env: {
      ...process.env,
      HF_HUB_CACHE: EMPTY_HF_CACHE,
      PORT: "0",
      AUTOPIPE_THREADS: "1",
      ...env,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const line = await waitForLine(child, /health on http:\/\/localhost:(\d+)/);
  const port = Number(line.match(/:(\d+)$/)?.[1]);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const get = (path: string) => fetch(`http://127.0.0.1:${port}${path}`);
  return {
    child,
    metrics: async () => (await get("/metrics")).json(),
    ready: async () => (await get("/readyz")).status,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}
