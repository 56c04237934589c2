/**
 * Entry point of `npm start` (`node dist/server/main.js`): read the configuration, build the server, listen, load
 * the `AUTOPIPE_WARMUP` checkpoints, then report ready. On SIGTERM or SIGINT it stops gracefully (see
 * service/lifecycle.ts): drain, close the HTTP server, release every session, exit 0. A second signal cancels the
 * running generations at once instead of waiting out the grace period.
 */
import type { Server } from "node:http";
import { loadConfig } from "./config.ts";
import { createServices } from "./context.ts";
import { ConfigError } from "./errors.ts";
import { createHttpServer } from "./http-server.ts";
import { KeyRing } from "./security/api-keys.ts";
import { listenHost, startupNotice } from "./security/security.ts";
import { loadPipeline } from "./service/warm-up.ts";
import { createAutopipeYoga } from "./yoga.ts";

const started = performance.now();
// A configuration that cannot be used stops start-up with one line on stderr (the setting, the entry, the field).
// loadConfig only reads the environment, so whatever it throws names a variable and what it must be.
const config = orExit(
  () => loadConfig(),
  () => true,
);
// AUTOPIPE_ROLE=worker: no GraphQL here; server/worker.ts runs jobs (and exits on SIGINT/SIGTERM itself).
if (config.redisUrl && config.role === "worker") {
  await import("./worker.ts");
  await new Promise<never>(() => {});
}
const services = orExit(() => createServices(config));
const { logger, lifecycle } = services;
const yoga = createAutopipeYoga(services);
const server = createHttpServer(yoga);

const keys = KeyRing.fromConfig(config);
logger.info({ event: "exposure" }, startupNotice(config, keys));
server.listen(config.port, listenHost(config, keys) as string, () => {
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  logger.info(
    { event: "listening", port, url: `http://localhost:${port}${yoga.graphqlEndpoint}` },
    `autopipe listening on http://localhost:${port}/ (GraphQL at ${yoga.graphqlEndpoint})`,
  );
  void warmUp();
});

/** Loads the warm-up checkpoints one by one, then turns readiness true; a checkpoint that cannot load stops the server. */
async function warmUp(): Promise<void> {
  for (const model of config.warmup) {
    const loadStarted = performance.now();
    try {
      const info = await loadPipeline(services, model);
      logger.info(
        { event: "warmup", model, bytes: info.bytes, durationMs: ms(performance.now() - loadStarted) },
        `warmed up ${model}`,
      );
    } catch (error) {
      logger.fatal({ event: "warmup", model, error: (error as Error).message }, `warm-up of ${model} failed`);
      await stop("warm-up failed", 1);
      return;
    }
  }
  if (lifecycle.phase !== "starting") return;
  lifecycle.markReady();
  logger.info({ event: "ready", sinceStartMs: ms(performance.now() - started) }, "ready");
}

/**
 * Runs a start-up step; when it throws a configuration error (by default a ConfigError), prints
 * `autopipe: cannot start: <message>` and exits 1, with no stack trace: the message says what to fix. Anything
 * else is a bug and keeps its stack.
 */
function orExit<T>(
  step: () => T,
  isConfiguration: (error: unknown) => boolean = (error) => error instanceof ConfigError,
): T {
  try {
    return step();
  } catch (error) {
    if (!isConfiguration(error)) throw error;
    process.stderr.write(`autopipe: cannot start: ${(error as Error).message}\n`);
    process.exit(1);
  }
}

let stopping: Promise<void> | undefined;

/** Drains, closes the HTTP server, releases the sessions and exits with `code`. */
function stop(reason: string, code: number): Promise<void> {
  stopping ??= (async () => {
    logger.info(
      { event: "shutdown", reason, graceMs: config.shutdownGraceMs, running: services.admission.active },
      `${reason}: draining`,
    );
    const report = await lifecycle.drain(config.shutdownGraceMs);
    logger.info({ event: "drained", ...report, durationMs: ms(report.durationMs) }, "drained");
    await closeHttp(server);
    await services.dispose();
    logger.info({ event: "stopped", exitCode: code }, "stopped");
    // A pipe that was full (EAGAIN) leaves log lines buffered: write them out before exiting.
    await new Promise<void>((resolve) => logger.flush(() => resolve()));
    process.exit(code);
  })();
  return stopping;
}

/** Stops accepting connections, lets responses in flight finish, and closes kept-alive connections. */
function closeHttp(http: Server): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => http.closeAllConnections(), 5000);
    http.close(() => {
      clearTimeout(force);
      resolve();
    });
    http.closeIdleConnections();
  });
}

function ms(value: number): number {
  return Math.round(value * 10) / 10;
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (!stopping) {
      void stop(signal, 0);
      return;
    }
    logger.warn({ event: "shutdown", signal }, `${signal} again: cancelling running generations now`);
    lifecycle.cancelNow();
  });
}
