/**
 * Latency of a bare query (`{ schedulers { name } }`) over HTTP, from a client process of its own, while
 * 10,000-alias and 10 MB documents are being refused by four concurrent attackers, against the same query on an
 * idle server (alternating, 200 each).
 * Target: p99 ≤ 50 ms under attack. The attackers run on the same machine (their own sending competes for its
 * cores), so the server's own CPU time per refused document is printed too: one attacker at a time for 3 s.
 */
import { spawn } from "node:child_process";
import type { AddressInfo } from "node:net";
import { createInterface } from "node:readline";
import { createHttpServer } from "../server/http-server.ts";
import { createAutopipeYoga } from "../server/yoga.ts";
import { benchServices } from "./setup.ts";
import { fmt, median, quantile } from "./stats.ts";

/**
 * One attacker: sends its document in a loop over one keep-alive connection, as precomputed bytes on a raw socket
 * (an attack tool spends nothing on an HTTP client; what runs on this machine should be the server's work, not the
 * attacker's), and waits for each answer before the next. On SIGTERM prints one word per answer ("HTTP-413", …).
 */
const ATTACKER = `
const net = require("node:net");
const [url, kind] = process.argv.slice(1);
const { hostname, port, pathname } = new URL(url);
const query = kind === "aliases"
  ? "{ " + Array.from({ length: 10000 }, (_, i) => "a" + i + ": schedulers { name }").join(" ") + " }"
  : "{ schedulers { name } } # " + "x".repeat(10 * 1024 * 1024);
const body = Buffer.from(JSON.stringify({ query }));
const head = Buffer.from("POST " + pathname + " HTTP/1.1\\r\\nhost: " + hostname + "\\r\\ncontent-type: application/json\\r\\ncontent-length: " + body.length + "\\r\\n\\r\\n");
const seen = [];
process.on("SIGTERM", () => { console.log(seen.join(" ")); process.exit(0); });
function connect() {
  const socket = net.connect(Number(port), hostname);
  let buffered = Buffer.alloc(0);
  const send = () => { socket.write(head); socket.write(body); };
  socket.on("connect", send);
  socket.on("data", (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    for (;;) {
      const end = buffered.indexOf("\\r\\n\\r\\n");
      if (end < 0) return;
      const headers = buffered.subarray(0, end).toString("latin1");
      const length = Number(/content-length: *(\\d+)/i.exec(headers)?.[1] ?? 0);
      if (buffered.length < end + 4 + length) return;
      seen.push("HTTP-" + headers.slice(9, 12));
      buffered = buffered.subarray(end + 4 + length);
      // As an HTTP client does: a "connection: close" answer ends this connection; the next request opens one.
      if (/^connection: *close/im.test(headers)) { closing = true; socket.destroy(); return; }
      send();
    }
  });
  socket.on("error", () => {});
  let closing = false;
  socket.on("close", () => { if (!closing) seen.push("reset"); connect(); });
}
connect();
`;

/** The bare-query client: for each number n read from stdin, runs n bare queries and prints their latencies. */
const BARE_CLIENT = `
const url = process.argv[1];
const lines = require("node:readline").createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  const out = [];
  for (let i = 0; i < Number(line); i++) {
    const started = performance.now();
    const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: '{"query":"{ schedulers { name } }"}' });
    await r.json();
    out.push(performance.now() - started);
  }
  console.log(JSON.stringify(out));
});
`;

export async function benchGraphqlLimits(): Promise<void> {
  const services = benchServices();
  const server = createHttpServer(createAutopipeYoga(services, { graphiql: false }));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  // The attackers run in another process, so that building and sending their documents costs this one nothing.
  const attack = (kind: "aliases" | "huge") =>
    spawn(process.execPath, ["-e", ATTACKER, url, kind], { stdio: ["ignore", "pipe", "inherit"] });
  // The bare-query client is a process of its own too, as every real client is: in this process it would share
  // the server's event loop (an earlier version measured that way: p99 60 ms where this measures 43 ms).
  const client = spawn(process.execPath, ["-e", BARE_CLIENT, url], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: client.stdout as NodeJS.ReadableStream });
  const replies: ((line: string) => void)[] = [];
  lines.on("line", (line) => replies.shift()?.(line));
  const samples = (n: number) =>
    new Promise<number[]>((resolve) => {
      replies.push((line) => resolve(JSON.parse(line) as number[]));
      client.stdin?.write(`${n}\n`);
    });
  const queue: number[] = [];
  /** One bare query's latency, measured in the client process (asked for in batches of 20). */
  const bare = async () => {
    if (queue.length === 0) queue.push(...(await samples(20)));
    return queue.shift() as number;
  };
  for (let i = 0; i < 20; i++) await bare();
  const idle: number[] = [];
  const attacked: number[] = [];
  const counts: string[] = [];
  // Alternate blocks of 20 idle and 20 attacked samples.
  for (let block = 0; block < 10; block++) {
    for (let i = 0; i < 20; i++) idle.push(await bare());
    const attackers = [attack("aliases"), attack("aliases"), attack("huge"), attack("huge")];
    await new Promise((r) => setTimeout(r, 500));
    for (let i = 0; i < 20; i++) attacked.push(await bare());
    for (const child of attackers) {
      const done = new Promise<string>((resolve) => {
        let out = "";
        child.stdout?.on("data", (d) => (out += d));
        child.on("exit", () => resolve(out.trim()));
      });
      child.kill("SIGTERM");
      counts.push(await done);
    }
  }
  // The server's own CPU per refused document (this process: the server alone).
  const perDocument: string[] = [];
  for (const kind of ["aliases", "huge"] as const) {
    const child = attack(kind);
    await new Promise((r) => setTimeout(r, 300));
    const cpu = process.cpuUsage();
    const answers = new Promise<string>((resolve) => {
      let out = "";
      child.stdout?.on("data", (d) => (out += d));
      child.on("exit", () => resolve(out.trim()));
    });
    await new Promise((r) => setTimeout(r, 3000));
    const used = process.cpuUsage(cpu);
    child.kill("SIGTERM");
    const count = (await answers).split(/\s+/).filter(Boolean).length;
    const ms = (used.user + used.system) / 1000 / Math.max(1, count);
    perDocument.push(`${kind === "huge" ? "10 MB" : "10,000 aliases"} ${fmt(ms)} (${count} refused)`);
  }
  client.kill();
  server.close();
  await services.dispose();
  console.log(
    "Bare query latency while oversized documents are refused (HTTP, 200 samples each, alternating)",
  );
  console.log(`  idle:           p50 ${fmt(median(idle))}, p99 ${fmt(quantile(idle, 0.99))}`);
  console.log(
    `  under attack:   p50 ${fmt(median(attacked))}, p99 ${fmt(quantile(attacked, 0.99))} (target ≤ 50 ms)`,
  );
  const tally = new Map<string, number>();
  for (const line of counts.join(" ").split(/\s+/).filter(Boolean))
    tally.set(line, (tally.get(line) ?? 0) + 1);
  console.log(`  attack answers: ${[...tally].map(([s, n]) => `${n}× ${s}`).join(", ")}`);
  console.log(`  server CPU per refused document: ${perDocument.join("; ")}\n`);
}
