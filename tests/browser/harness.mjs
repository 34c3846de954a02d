// What the browser tests share: a real authql process, the example app
// served with /graphql proxied to it (one origin, as behind a reverse
// proxy), and headless Chromium.
//
// Environment:
//   AUTHQL_BIN            the server binary (default: target/debug/authql)
//   BROWSER_DATABASE_URL  its database (default: a new SQLite file in the system's
//                         temporary directory for each server; a postgres:// URL
//                         is created and migrated by the server on start)
//   CHROMIUM              the browser (default: /usr/bin/chromium)

import { spawn } from "node:child_process";
import { createReadStream, existsSync, rmSync, statSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { dirname, extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, "../..");
const appDist = join(repo, "examples/spa/dist");

/** A unique email per call, so runs never collide on one database. */
export function uniqueEmail(tag) {
  return `${tag}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
}

/**
 * Starts authql on a free port. `env` adds to (or overrides) the defaults:
 * cheap bcrypt and no rate limits, so the tests measure the clients, not
 * the brakes.
 */
export async function startServer(env = {}) {
  const bin = process.env.AUTHQL_BIN ?? join(repo, "target/debug/authql");
  if (!existsSync(bin)) throw new Error(`${bin} not found: run \`cargo build\` first`);
  // A throwaway SQLite file unless a database is given; removed on stop.
  const sqliteFile = process.env.BROWSER_DATABASE_URL
    ? null
    : join(tmpdir(), `authql-browser-${process.pid}-${Date.now()}.db`);
  const child = spawn(bin, ["serve"], {
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: process.env.BROWSER_DATABASE_URL ?? `sqlite://${sqliteFile}`,
      HOST: "127.0.0.1",
      PORT: "0",
      APP_ENV: "development",
      BCRYPT_COST: "4",
      RATE_LIMIT_LOGIN: "0",
      RATE_LIMIT_IP: "0",
      GRAPHIQL: "on",
      RUST_LOG: "info",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  const onData = (chunk) => {
    log += chunk.toString();
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  // "close" comes after "exit" once the process's output has all been
  // read: only then is the log complete.
  const closed = new Promise((done) => child.on("close", done));
  const port = await new Promise((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`authql did not start:\n${log}`)), 30_000);
    const check = () => {
      const match = /authql listening.*?127\.0\.0\.1:(\d+)/.exec(log);
      if (match) {
        clearTimeout(timer);
        resolvePort(Number(match[1]));
      }
    };
    child.stdout.on("data", check);
    child.stderr.on("data", check);
    child.on("exit", (code) => reject(new Error(`authql exited with ${code}:\n${log}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  const count = (name) => (log.match(new RegExp(`event="?${name}"?[ \\n]`, "g")) ?? []).length;
  return {
    url,
    port,
    /** Everything the server logged so far. */
    log: () => log,
    /**
     * How many audit events named `name` the server logged. The line of a
     * request that was just answered may still be on its way here: call
     * `sync()` first.
     */
    count,
    /**
     * Resolves once the log holds every line the server wrote before it
     * answered the requests answered so far. The server writes an event's
     * line before it answers, and its lines arrive in order, so this sends
     * a login that fails (the server logs `login_failed`) and waits for
     * that line. Tests that count `login_failed` must not use it.
     */
    sync: async () => {
      const before = count("login_failed");
      const response = await fetch(`${url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          query: "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
          variables: { i: { email: uniqueEmail("log-sync"), password: "not a password of anyone" } },
        }),
      });
      await response.text();
      await eventually(() => count("login_failed") > before, 10_000, "the server's log to catch up");
    },
    /** Stops the server (SIGTERM) and resolves once its log is complete. */
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await closed;
      for (const suffix of ["", "-wal", "-shm"]) {
        if (sqliteFile) rmSync(`${sqliteFile}${suffix}`, { force: true });
      }
    },
  };
}

const types = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
};

/**
 * Serves the built example app and forwards /graphql to authql: one
 * origin, like a reverse proxy in front of both. `seen` records each
 * /graphql request (its Sec-Fetch-Site, whether the refresh cookie came
 * along, and once authql has answered it, `answered`), for the cross-site
 * checks.
 */
export async function startApp(server, host = "localhost") {
  if (!existsSync(join(appDist, "index.html"))) {
    throw new Error("examples/spa/dist is missing: run `npm run build` in examples/spa first");
  }
  const seen = [];
  const proxy = http.createServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    if (path === "/graphql") {
      const request = {
        method: req.method,
        site: req.headers["sec-fetch-site"],
        cookie: /authql_refresh=/.test(req.headers.cookie ?? ""),
        answered: false,
      };
      seen.push(request);
      const upstream = http.request(
        `${server.url}${req.url}`,
        { method: req.method, headers: { ...req.headers, host: `127.0.0.1:${server.port}` } },
        (answer) => {
          request.answered = true;
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on("error", () => {
        request.answered = true;
        res.writeHead(502);
        res.end();
      });
      req.pipe(upstream);
      return;
    }
    let file = normalize(join(appDist, path));
    if (!file.startsWith(appDist) || !existsSync(file) || statSync(file).isDirectory()) {
      file = join(appDist, "index.html");
    }
    res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" });
    createReadStream(file).pipe(res);
  });
  await new Promise((done) => proxy.listen(0, "127.0.0.1", done));
  const port = proxy.address().port;
  return {
    url: `http://${host}:${port}`,
    seen,
    stop: () => new Promise((done) => proxy.close(() => done())),
  };
}

/** Headless Chromium from the system (no browser download). */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/**
 * Lets `page` reach only `origins`; every other request is aborted and
 * recorded (a test asserts the list stays empty).
 */
export async function allowOnly(page, origins) {
  const blocked = [];
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (origins.some((origin) => url.startsWith(`${origin}/`) || url === origin)) {
      return route.continue();
    }
    blocked.push(url);
    return route.abort();
  });
  return blocked;
}

/** Resolves once `test()` is true, polling; fails after `ms`. */
export async function eventually(test, ms = 10_000, what = "condition") {
  const end = Date.now() + ms;
  for (;;) {
    if (await test()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
