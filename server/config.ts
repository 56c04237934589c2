/**
 * Configuration: environment variables read once into a typed, frozen `Config`. Every variable, its default and
 * its meaning are listed in README.md; `loadConfig(env)` is pure so tests build configs without touching
 * `process.env`.
 */
import os from "node:os";
import path from "node:path";

export type ExecutionProvider = "cpu" | "cuda" | "webgpu";

/** When the safety checker runs: `auto` follows the pipeline's config, `on` always (where present), `off` never. */
export type SafetyCheckerMode = "auto" | "on" | "off";
/** What a process does when jobs go through Redis: `all` (API + worker), `api` (GraphQL only) or `worker`. */
export type Role = "all" | "api" | "worker";

export interface Config {
  /** HTTP port (`PORT`, default 4000). */
  readonly port: number;
  /** Root of local checkpoints: `<modelsDir>/<id>/model_index.json` (`AUTOPIPE_MODELS_DIR`, default `./models`). */
  readonly modelsDir: string;
  /** Hugging Face cache root holding `models--org--name/` (`HF_HUB_CACHE`, default `$HF_HOME/hub`). */
  readonly hfHubCache: string;
  /** Root of LoRA adapter files: `<lorasDir>/<id>.safetensors` (`AUTOPIPE_LORAS_DIR`, default `./loras`). */
  readonly lorasDir: string;
  /** Whether missing checkpoints may be downloaded from the Hub (`AUTOPIPE_ALLOW_DOWNLOAD=1` and not `HF_HUB_OFFLINE=1`). */
  readonly allowDownload: boolean;
  /** Token for gated or private Hub repositories (`HF_TOKEN`). */
  readonly hfToken: string | undefined;
  /** onnxruntime execution provider (`AUTOPIPE_EXECUTION_PROVIDER`, default `cpu`). */
  readonly executionProvider: ExecutionProvider;
  /** onnxruntime intra-op threads (`AUTOPIPE_THREADS`, default: the number of cores). */
  readonly threads: number;
  /** Upper bound of `numInferenceSteps` (`AUTOPIPE_MAX_STEPS`, default 150). */
  readonly maxSteps: number;
  /** Upper bound of width × height, output and input images (`AUTOPIPE_MAX_PIXELS`, default 1024 × 1024). */
  readonly maxPixels: number;
  /** Upper bound of one uploaded image (`AUTOPIPE_MAX_UPLOAD_BYTES`, default 20 MB). */
  readonly maxUploadBytes: number;
  /** Weight bytes the pipeline cache may hold (`AUTOPIPE_CACHE_MAX_BYTES`, default half of total memory). */
  readonly cacheMaxBytes: number;
  /** Checkpoints the pipeline cache may hold (`AUTOPIPE_CACHE_MAX_MODELS`, default 4). */
  readonly cacheMaxModels: number;
  /** Generations run at once (`AUTOPIPE_MAX_CONCURRENT`, default 1 on CPU, 2 otherwise). */
  readonly maxConcurrent: number;
  /** Generations that may wait for a slot (`AUTOPIPE_MAX_QUEUE`, default 16). */
  readonly maxQueue: number;
  /** How long finished jobs stay readable (`AUTOPIPE_JOB_TTL_SECONDS`, default 900). */
  readonly jobTtlSeconds: number;
  /** Finished jobs kept at most; the oldest finished go first (`AUTOPIPE_MAX_JOBS`, default 256). */
  readonly maxJobs: number;
  /**
   * The embedded job store, used when jobs run in process (`AUTOPIPE_DATA_DIR`, default `./.data/autopipe`;
   * `off`: jobs are kept in memory only and a restart loses them). One process per folder.
   */
  readonly dataDir: string | undefined;
  /**
   * PNG bytes of finished jobs the job store keeps on disk; past it the oldest finished jobs go first
   * (`AUTOPIPE_JOB_RESULTS_MAX_BYTES`, default 1 GiB).
   */
  readonly jobResultsMaxBytes: number;
  /**
   * The optimized-graph cache (`AUTOPIPE_CACHE_DIR`, default `./.cache/autopipe`; `off` disables it): fused and
   * optimized graphs with a private copy of their weights, so that later loads are fast and never read the
   * checkpoint's own files again.
   */
  readonly graphCacheDir: string | undefined;
  /** JSON file of named pipelines declared at start-up (`AUTOPIPE_PIPELINES_FILE`, default none). */
  readonly pipelinesFile: string | null;
  /** When the safety checker runs (`AUTOPIPE_SAFETY_CHECKER`: auto | on | off, default auto). */
  readonly safetyChecker: SafetyCheckerMode;
  /**
   * How often what the control plane knows of a checkpoint (where it is, model_index.json, configs, which graphs
   * exist) is revalidated against the files' identity (`AUTOPIPE_CHECKPOINT_REVALIDATE_MS`, default 1000).
   */
  readonly checkpointRevalidateMs: number;
  /** On SIGTERM/SIGINT, how long running generations may take to finish (`AUTOPIPE_SHUTDOWN_GRACE_MS`, default 30 s). */
  readonly shutdownGraceMs: number;
  /** Checkpoints loaded before readiness turns true (`AUTOPIPE_WARMUP=model[,model…]`, default none). */
  readonly warmup: readonly string[];
  /** pino log level (`LOG_LEVEL`, default `info`). */
  readonly logLevel: LogLevel;
  /** Whether generation log lines carry the prompts (`AUTOPIPE_LOG_PROMPTS=1`; off by default). */
  readonly logPrompts: boolean;
  // Exposure (server/security/; README "Deploying").
  /** Interface to listen on (`HOST`); unset: loopback when no API keys are configured, else every interface. */
  readonly host: string | undefined;
  /** `key:scope` pairs, comma-separated (`AUTOPIPE_API_KEYS`); never logged. */
  readonly apiKeys: string | undefined;
  /** A file of `key:scope` pairs, one a line (`AUTOPIPE_API_KEYS_FILE`). */
  readonly apiKeysFile: string | undefined;
  /** Browser origins allowed to call the API (`AUTOPIPE_CORS_ORIGINS`, comma-separated; default none). */
  readonly corsOrigins: readonly string[];
  /** Generations per minute per key, or per client address when open (`AUTOPIPE_RATE_LIMIT`; unset: no limit). */
  readonly rateLimit: number | undefined;
  /** Introspection, GraphiQL and field suggestions (`AUTOPIPE_INTROSPECTION`; unset: introspection and GraphiQL on loopback only). */
  readonly introspection: boolean | undefined;
  /** Peak memory a generation may plan for (`AUTOPIPE_MEMORY_BUDGET_BYTES`; unset: see server/service/cost.ts). */
  readonly memoryBudgetBytes: number | undefined;
  /** Longest estimated run of one generation, seconds (`AUTOPIPE_MAX_REQUEST_SECONDS`, default 600; see time-cost.ts). */
  readonly maxRequestSeconds: number;
  /** Longest estimated run of a synchronous `generate`, seconds (`AUTOPIPE_SYNC_MAX_SECONDS`, default 240). */
  readonly syncMaxSeconds: number;
  /** Redis for jobs on worker processes (`AUTOPIPE_REDIS_URL`); null: jobs run in process. */
  readonly redisUrl: string | null;
  /** This process's part when `redisUrl` is set (`AUTOPIPE_ROLE`, default `all`). */
  readonly role: Role;
  /** Runs of a job at most, counting runs lost with a killed worker (`AUTOPIPE_JOB_ATTEMPTS`, default 2). */
  readonly jobAttempts: number;
  /** A worker that stops renewing its job's lock this long is taken for dead (`AUTOPIPE_JOB_LOCK_MS`, default 30 000). */
  readonly jobLockMs: number;
}

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
const LOG_LEVELS: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

type Env = Readonly<Record<string, string | undefined>>;

/** Reads a `Config` from an environment (default `process.env`), failing loudly on malformed numbers. */
export function loadConfig(env: Env = process.env, cwd = process.cwd()): Config {
  const hfHome = env.HF_HOME || path.join(os.homedir(), ".cache", "huggingface");
  const executionProvider = parseProvider(env.AUTOPIPE_EXECUTION_PROVIDER);
  return Object.freeze({
    port: int(env, "PORT", 4000, 0),
    modelsDir: path.resolve(cwd, env.AUTOPIPE_MODELS_DIR || "models"),
    hfHubCache: path.resolve(cwd, env.HF_HUB_CACHE || path.join(hfHome, "hub")),
    lorasDir: path.resolve(cwd, env.AUTOPIPE_LORAS_DIR || "loras"),
    allowDownload: flag(env.AUTOPIPE_ALLOW_DOWNLOAD) && !flag(env.HF_HUB_OFFLINE),
    hfToken: env.HF_TOKEN || undefined,
    executionProvider,
    threads: int(env, "AUTOPIPE_THREADS", os.availableParallelism(), 1),
    maxSteps: int(env, "AUTOPIPE_MAX_STEPS", 150, 1),
    maxPixels: int(env, "AUTOPIPE_MAX_PIXELS", 1024 * 1024, 64),
    maxUploadBytes: int(env, "AUTOPIPE_MAX_UPLOAD_BYTES", 20 * 1024 * 1024, 1),
    cacheMaxBytes: int(env, "AUTOPIPE_CACHE_MAX_BYTES", Math.floor(os.totalmem() / 2), 0),
    cacheMaxModels: int(env, "AUTOPIPE_CACHE_MAX_MODELS", 4, 1),
    maxConcurrent: int(env, "AUTOPIPE_MAX_CONCURRENT", executionProvider === "cpu" ? 1 : 2, 1),
    maxQueue: int(env, "AUTOPIPE_MAX_QUEUE", 16, 0),
    jobTtlSeconds: int(env, "AUTOPIPE_JOB_TTL_SECONDS", 900, 0),
    maxJobs: int(env, "AUTOPIPE_MAX_JOBS", 256, 0),
    dataDir:
      env.AUTOPIPE_DATA_DIR?.trim().toLowerCase() === "off"
        ? undefined
        : path.resolve(cwd, env.AUTOPIPE_DATA_DIR?.trim() || path.join(".data", "autopipe")),
    jobResultsMaxBytes: int(env, "AUTOPIPE_JOB_RESULTS_MAX_BYTES", 1024 * 1024 * 1024, 0),
    graphCacheDir:
      env.AUTOPIPE_CACHE_DIR?.trim().toLowerCase() === "off"
        ? undefined
        : path.resolve(cwd, env.AUTOPIPE_CACHE_DIR || path.join(".cache", "autopipe")),
    pipelinesFile: env.AUTOPIPE_PIPELINES_FILE ? path.resolve(cwd, env.AUTOPIPE_PIPELINES_FILE) : null,
    safetyChecker: parseSafetyChecker(env.AUTOPIPE_SAFETY_CHECKER),
    checkpointRevalidateMs: int(env, "AUTOPIPE_CHECKPOINT_REVALIDATE_MS", 1000, 0),
    shutdownGraceMs: int(env, "AUTOPIPE_SHUTDOWN_GRACE_MS", 30_000, 0),
    warmup: Object.freeze(
      (env.AUTOPIPE_WARMUP ?? "")
        .split(",")
        .map((model) => model.trim())
        .filter((model) => model !== ""),
    ),
    logLevel: parseLogLevel(env.LOG_LEVEL),
    logPrompts: flag(env.AUTOPIPE_LOG_PROMPTS),
    host: env.HOST?.trim() || undefined,
    apiKeys: env.AUTOPIPE_API_KEYS?.trim() || undefined,
    apiKeysFile: env.AUTOPIPE_API_KEYS_FILE?.trim()
      ? path.resolve(cwd, env.AUTOPIPE_API_KEYS_FILE.trim())
      : undefined,
    corsOrigins: (env.AUTOPIPE_CORS_ORIGINS ?? "")
      .split(",")
      .map((o) => o.trim())
      .filter(Boolean),
    rateLimit: optionalInt(env, "AUTOPIPE_RATE_LIMIT", 1),
    introspection: env.AUTOPIPE_INTROSPECTION?.trim() ? flag(env.AUTOPIPE_INTROSPECTION) : undefined,
    memoryBudgetBytes: optionalInt(env, "AUTOPIPE_MEMORY_BUDGET_BYTES", 1),
    maxRequestSeconds: int(env, "AUTOPIPE_MAX_REQUEST_SECONDS", 600, 1),
    syncMaxSeconds: int(env, "AUTOPIPE_SYNC_MAX_SECONDS", 240, 1),
    redisUrl: env.AUTOPIPE_REDIS_URL?.trim() || null,
    role: parseRole(env.AUTOPIPE_ROLE),
    jobAttempts: int(env, "AUTOPIPE_JOB_ATTEMPTS", 2, 1),
    jobLockMs: int(env, "AUTOPIPE_JOB_LOCK_MS", 30_000, 500),
  });
}

function flag(value: string | undefined): boolean {
  return value !== undefined && ["1", "true", "yes", "on"].includes(value.trim().toLowerCase());
}

function int(env: Env, name: string, fallback: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new Error(`${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function optionalInt(env: Env, name: string, min: number): number | undefined {
  return env[name]?.trim() ? int(env, name, 0, min) : undefined;
}

function parseProvider(raw: string | undefined): ExecutionProvider {
  const value = (raw || "cpu").trim().toLowerCase();
  if (value === "cpu" || value === "cuda" || value === "webgpu") return value;
  throw new Error(`AUTOPIPE_EXECUTION_PROVIDER must be cpu, cuda or webgpu, got ${JSON.stringify(raw)}`);
}

function parseSafetyChecker(raw: string | undefined): SafetyCheckerMode {
  const value = (raw || "auto").trim().toLowerCase();
  if (value === "auto" || value === "on" || value === "off") return value;
  throw new Error(`AUTOPIPE_SAFETY_CHECKER must be auto, on or off, got ${JSON.stringify(raw)}`);
}

function parseLogLevel(raw: string | undefined): LogLevel {
  const value = (raw || "info").trim().toLowerCase();
  const level = LOG_LEVELS.find((l) => l === value);
  if (level) return level;
  throw new Error(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(raw)}`);
}

function parseRole(raw: string | undefined): Role {
  const value = (raw || "all").trim().toLowerCase();
  if (value === "all" || value === "api" || value === "worker") return value;
  throw new Error(`AUTOPIPE_ROLE must be all, api or worker, got ${JSON.stringify(raw)}`);
}
