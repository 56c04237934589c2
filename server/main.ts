/**
 * Entry point of `npm start`: read the configuration, build the server, listen. Nothing else.
 */
import { createServer } from "node:http";
import { loadConfig } from "./config.ts";
import { createServices } from "./context.ts";
import { createAutopipeYoga } from "./yoga.ts";

const config = loadConfig();
// AUTOPIPE_ROLE=worker: no GraphQL here; server/worker.ts runs jobs (and exits on SIGINT/SIGTERM itself).
if (config.redisUrl && config.role === "worker") {
  await import("./worker.ts");
  await new Promise<never>(() => {});
}
const services = createServices(config);
const yoga = createAutopipeYoga(services);
const server = createServer(yoga);

server.listen(config.port, () => {
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  console.log(`autopipe listening on http://localhost:${port}${yoga.graphqlEndpoint}`);
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    server.close();
    void services.dispose().finally(() => process.exit(0));
  });
}
