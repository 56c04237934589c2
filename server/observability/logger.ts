/**
 * Structured logs: one JSON line per event (pino), at `LOG_LEVEL`. Every request and every generation logs one
 * line carrying its request id; prompts stay out of the logs unless `AUTOPIPE_LOG_PROMPTS=1`. Tests pass their
 * own destination to read the lines back.
 */
import { type DestinationStream, type Logger, pino } from "pino";
import type { Config } from "../config.ts";

export type { Logger } from "pino";

/**
 * A logger at the configured level writing to stdout (or `destination`).
 *
 * @example
 * const logger = createLogger(loadConfig());
 * logger.info({ port: 4000 }, "listening"); // {"level":"info","time":"…","pid":…,"port":4000,"msg":"listening"}
 */
export function createLogger(config: Pick<Config, "logLevel">, destination?: DestinationStream): Logger {
  const options = {
    level: config.logLevel,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Levels as words ("info"), which log shippers and people read alike.
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return destination ? pino(options, destination) : pino(options);
}
