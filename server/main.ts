/**
 * Entry point of `npm start`: read the configuration, build the server, listen. Nothing else.
 */
import { createServer } from "node:http";
import { loadConfig } from "./config.ts";
import { createServices } from "./context.ts";
import { KeyRing } from "./security/api-keys.ts";
import { listenHost, startupNotice } from "./security/security.ts";
import { createAutopipeYoga } from "./yoga.ts";

const config = loadConfig();
const services = createServices(config);
const yoga = createAutopipeYoga(services);
const server = createServer(yoga);

const keys = KeyRing.fromConfig(config);
console.log(startupNotice(config, keys));
server.listen(config.port, listenHost(config, keys) as string, () => {
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
