// Headless-Chromium compatibility test for paddock's browser protocols.
//
// Starts paddock (allowing one page origin with --cors-origin), two static
// servers (the allowed origin and one that is not), loads the page
// (page.js, bundled to dist/page.js) from each in Chromium through
// playwright-core, and checks what the page reports: on the allowed origin,
// Connect (binary and JSON), gRPC-Web and Connect GET under /api create,
// get and list runners and see readable Unauthenticated errors; on the other
// origin nothing gets through. Prints one line per check and, last,
// `browser: N passed, M failed`; exits non-zero on any failure.
//
// Environment: PADDOCK_BIN (default ../../target/debug/paddock),
// CHROMIUM (default /usr/bin/chromium), BROWSER_TEST_PIDFILE (run.sh's, to
// kill what is left should this script itself be killed),
// BROWSER_TEST_VERBOSE=1 (print the pages' results and paddock's log).

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const PADDOCK_BIN = path.resolve(here, process.env.PADDOCK_BIN || "../../target/debug/paddock");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const PIDFILE = process.env.BROWSER_TEST_PIDFILE || "";
const VERBOSE = !!process.env.BROWSER_TEST_VERBOSE;
const TOTAL_TIMEOUT_MS = 150_000;
const START_TIMEOUT_MS = 30_000;
const PAGE_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const TRANSPORTS = ["connect-proto", "connect-json", "grpc-web", "connect-json-get-api"];

let passed = 0;
let failed = 0;
function check(name, ok, detail) {
  if (ok) {
    passed++;
    console.log(`ok - ${name}`);
  } else {
    failed++;
    console.log(`FAIL - ${name}${detail === undefined ? "" : `: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`}`);
  }
  return ok;
}

function log(msg) {
  console.error(`# ${msg}`);
}

function rememberPid(pid) {
  if (PIDFILE && pid) appendFileSync(PIDFILE, `${pid}\n`);
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// ---- static origins ---------------------------------------------------------

function startStatic() {
  const files = {
    "/": ["index.html", "text/html; charset=utf-8"],
    "/index.html": ["index.html", "text/html; charset=utf-8"],
    "/dist/page.js": ["dist/page.js", "text/javascript; charset=utf-8"],
  };
  const server = http.createServer((req, res) => {
    const file = files[new URL(req.url, "http://x").pathname];
    if (!file || req.method !== "GET") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    res.writeHead(200, { "content-type": file[1], "cache-control": "no-store" });
    res.end(readFileSync(path.join(here, file[0])));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      resolve({ server, origin: `http://127.0.0.1:${port}` });
    });
  });
}

// ---- paddock ----------------------------------------------------------------

function startPaddock(workdir, token, corsOrigin) {
  const env = { ...process.env, PADDOCK_ADMIN_TOKEN: token, NO_COLOR: "1" };
  for (const k of ["DATABASE_URL", "PADDOCK_LISTEN", "PADDOCK_CORS_ORIGINS", "PADDOCK_SECRET_KEY_FILE"]) delete env[k];
  const child = spawn(
    PADDOCK_BIN,
    [
      "--database-url", `sqlite://${path.join(workdir, "p.db")}`,
      "serve", "--listen", "127.0.0.1:0", "--cors-origin", corsOrigin,
    ],
    { cwd: workdir, env, stdio: ["ignore", "pipe", "pipe"] },
  );
  rememberPid(child.pid);
  const state = { child, stderr: "", exit: null };
  const exited = new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      state.exit = { code, signal };
      resolve(state.exit);
    });
  });
  state.exited = exited;
  child.stdout.on("data", (d) => { state.stderr += d; });
  const url = new Promise((resolve, reject) => {
    child.on("error", reject);
    child.stderr.on("data", (d) => {
      state.stderr += d;
      // eslint-disable-next-line no-control-regex
      const m = state.stderr.replace(/\x1b\[[0-9;]*m/g, "").match(/listen=(127\.0\.0\.1:\d+)/);
      if (m) resolve(`http://${m[1]}`);
    });
    exited.then((e) => reject(new Error(`paddock exited before serving: ${JSON.stringify(e)}\n${state.stderr}`)));
  });
  state.url = withTimeout(url, START_TIMEOUT_MS, "paddock to log listen=");
  return state;
}

async function stopPaddock(state) {
  if (state.exit) return state.exit;
  state.child.kill("SIGTERM");
  try {
    return await withTimeout(state.exited, STOP_TIMEOUT_MS, "paddock to exit after SIGTERM");
  } catch (e) {
    state.child.kill("SIGKILL");
    await state.exited;
    return { code: null, signal: "SIGKILL", error: e.message };
  }
}

// Connect JSON from node (no browser, no CORS): what the server really holds.
async function listRunnersDirect(url, token) {
  const runners = [];
  let pageToken = "";
  for (let page = 0; page < 20; page++) {
    const res = await fetch(`${url}/gitpod.v1.RunnerService/ListRunners`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "connect-protocol-version": "1",
        authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({ pagination: { pageSize: 100, token: pageToken } }),
      signal: AbortSignal.timeout(10_000),
    });
    if (res.status !== 200) throw new Error(`ListRunners: HTTP ${res.status} ${await res.text()}`);
    const body = await res.json();
    runners.push(...(body.runners ?? []));
    pageToken = body.pagination?.nextToken ?? "";
    if (!pageToken) break;
  }
  return runners;
}

async function preflight(url, origin, requestHeaders) {
  const res = await fetch(`${url}/gitpod.v1.RunnerService/CreateRunner`, {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": requestHeaders,
    },
    signal: AbortSignal.timeout(10_000),
  });
  await res.arrayBuffer();
  return {
    status: res.status,
    allowOrigin: res.headers.get("access-control-allow-origin"),
    allowHeaders: (res.headers.get("access-control-allow-headers") || "").toLowerCase(),
  };
}

// ---- the page ---------------------------------------------------------------

async function runPage(browser, origin, paddockUrl, token, label) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const consoleLines = [];
  page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => consoleLines.push(`pageerror: ${e.message}`));
  const q = new URLSearchParams({ server: paddockUrl, token, label });
  try {
    await page.goto(`${origin}/index.html?${q}`, { timeout: 15_000, waitUntil: "load" });
    await page.waitForSelector("#result[data-done='1']", { state: "attached", timeout: PAGE_TIMEOUT_MS });
    const text = await page.textContent("#result");
    return { result: JSON.parse(text), consoleLines };
  } catch (e) {
    return { result: { fatal: `${e.message}` }, consoleLines };
  } finally {
    await context.close().catch(() => {});
  }
}

function checkAllowed(r, consoleLines) {
  if (!check("allowed origin: page ran to the end", !r.fatal, r.fatal ?? undefined)) {
    for (const l of consoleLines) log(`console ${l}`);
    return [];
  }
  const names = [];
  for (const t of TRANSPORTS) {
    const o = r.transports?.[t] ?? {};
    const want = `browser runner ${t}`;
    names.push(want);
    const c = o.created;
    check(`${t}: CreateRunner succeeded`, !!c && !o.createError && !!c.runnerId, o.createError ?? o);
    check(`${t}: created runner has the name sent`, c?.name === want, c);
    check(`${t}: created runner is RUNNER_KIND_LOCAL`, c?.kind === "RUNNER_KIND_LOCAL", c);
    check(`${t}: created runner is RUNNER_PROVIDER_LINUX_HOST`, c?.provider === "RUNNER_PROVIDER_LINUX_HOST", c);
    check(`${t}: CreateRunner returned an exchange token`, (o.exchangeTokenLength ?? 0) > 0, o.exchangeTokenLength);
    check(`${t}: GetRunner returns the runner`, !o.getError && o.got?.runnerId === c?.runnerId && o.got?.name === want, o.getError ?? o.got);
    const listed = o.listed ?? [];
    const mine = listed.find((x) => x?.runnerId === c?.runnerId);
    check(`${t}: ListRunners succeeded`, !o.listError && Array.isArray(o.listed), o.listError);
    check(`${t}: ListRunners contains the new runner`, !!mine && mine.name === want, listed);
    check(
      `${t}: every listed runner is RUNNER_KIND_LOCAL`,
      listed.length > 0 && listed.every((x) => x?.kind === "RUNNER_KIND_LOCAL"),
      listed,
    );
    check(
      `${t}: no credentials -> Unauthenticated (readable cross-origin)`,
      o.unauthenticated?.succeeded === false && o.unauthenticated?.code === "Unauthenticated",
      o.unauthenticated,
    );
    check(
      `${t}: unauthenticated error carries the server's message`,
      typeof o.unauthenticated?.rawMessage === "string" && o.unauthenticated.rawMessage.length > 0
        && o.unauthenticated.causeName == null,
      o.unauthenticated,
    );
    check(
      `${t}: wrong token -> Unauthenticated`,
      o.badToken?.succeeded === false && o.badToken?.code === "Unauthenticated",
      o.badToken,
    );
  }
  check("allowed origin: plain cross-origin fetch gets a response", r.rawFetch?.ok === true && r.rawFetch.status === 200, r.rawFetch);
  return names;
}

function checkDenied(r, consoleLines) {
  if (!check("other origin: page ran to the end", !r.fatal, r.fatal ?? undefined)) {
    for (const l of consoleLines) log(`console ${l}`);
    return;
  }
  for (const t of TRANSPORTS) {
    const o = r.transports?.[t] ?? {};
    // The fetch itself rejects (TypeError: Failed to fetch): connect-web
    // wraps it, and never sees a status from paddock.
    const blocked = (e) => !!e && e.causeName === "TypeError" && e.code !== "Unauthenticated";
    check(
      `${t}: CreateRunner from another origin is blocked by the browser`,
      !o.created && blocked(o.createError),
      o.createError ?? o,
    );
    check(
      `${t}: ListRunners from another origin is blocked by the browser`,
      !o.listed && blocked(o.listError),
      o.listError ?? o.listed,
    );
    check(
      `${t}: even the Unauthenticated error is unreadable from another origin`,
      o.unauthenticated?.succeeded === false && blocked(o.unauthenticated),
      o.unauthenticated,
    );
  }
  check(
    "other origin: plain cross-origin fetch rejects (TypeError)",
    r.rawFetch?.ok === false && r.rawFetch.errorName === "TypeError",
    r.rawFetch,
  );
  check(
    "other origin: Chromium reports a CORS block",
    consoleLines.some((l) => /CORS policy/i.test(l)),
    consoleLines.slice(0, 5),
  );
}

// ---- main -------------------------------------------------------------------

async function main() {
  const workdir = mkdtempSync(path.join(tmpdir(), "paddock-browser-"));
  const token = randomBytes(24).toString("hex");
  const cleanups = [];
  let paddock = null;
  let browser = null;
  const cleanup = async () => {
    while (cleanups.length) {
      try { await cleanups.pop()(); } catch { /* keep going */ }
    }
  };
  const onSignal = (sig) => {
    log(`got ${sig}: cleaning up`);
    if (paddock && !paddock.exit) paddock.child.kill("SIGKILL");
    const p = browser?.process?.();
    if (p && p.exitCode === null) p.kill("SIGKILL");
    rmSync(workdir, { recursive: true, force: true });
    check("not interrupted", false, sig);
    console.log(`browser: ${passed} passed, ${failed} failed`);
    process.exit(1);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  process.on("exit", () => {
    if (paddock && !paddock.exit) paddock.child.kill("SIGKILL");
    const p = browser?.process?.();
    if (p && p.exitCode === null) p.kill("SIGKILL");
  });
  cleanups.push(async () => rmSync(workdir, { recursive: true, force: true }));

  try {
    const allowed = await startStatic();
    cleanups.push(() => new Promise((r) => allowed.server.close(r)));
    const other = await startStatic();
    cleanups.push(() => new Promise((r) => other.server.close(r)));
    log(`allowed origin ${allowed.origin}, other origin ${other.origin}`);

    paddock = startPaddock(workdir, token, allowed.origin);
    cleanups.push(async () => { await stopPaddock(paddock); });
    const url = await paddock.url;
    log(`paddock at ${url}`);

    const okPre = await preflight(url, allowed.origin, "authorization,content-type,connect-protocol-version,connect-timeout-ms");
    check(
      "preflight from the allowed origin is allowed (with Authorization)",
      okPre.allowOrigin === allowed.origin && okPre.allowHeaders.includes("authorization"),
      okPre,
    );
    const badPre = await preflight(url, other.origin, "authorization,content-type");
    check("preflight from another origin gets no Access-Control-Allow-Origin", !badPre.allowOrigin, badPre);

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: START_TIMEOUT_MS,
    });
    rememberPid(browser.process?.()?.pid);
    cleanups.push(async () => { await withTimeout(browser.close(), 10_000, "browser close").catch(() => browser.process?.()?.kill("SIGKILL")); });
    log(`chromium ${browser.version()}`);

    const a = await runPage(browser, allowed.origin, url, token, "allowed");
    if (VERBOSE) log(`allowed page result:\n${JSON.stringify(a.result, null, 2)}\n${a.consoleLines.join("\n")}`);
    const names = checkAllowed(a.result, a.consoleLines);
    const d = await runPage(browser, other.origin, url, token, "denied");
    if (VERBOSE) log(`other-origin page result:\n${JSON.stringify(d.result, null, 2)}\n${d.consoleLines.join("\n")}`);
    checkDenied(d.result, d.consoleLines);

    const held = await listRunnersDirect(url, token);
    const heldNames = held.map((x) => x.name);
    check(
      "server holds every runner the page created",
      names.length === TRANSPORTS.length && names.every((n) => heldNames.filter((h) => h === n).length === 1),
      heldNames,
    );
    check("server holds no runner from the other origin", !heldNames.some((n) => /denied/.test(n)), heldNames);

    await withTimeout(browser.close(), 10_000, "browser close");
    const exit = await stopPaddock(paddock);
    check("paddock exits 0 on SIGTERM", exit.code === 0, exit);
    if (exit.code !== 0 || VERBOSE) log(`paddock stderr:\n${paddock.stderr}`);
  } catch (e) {
    check("test ran without error", false, e.stack ?? String(e));
    if (paddock) log(`paddock stderr:\n${paddock.stderr}`);
  } finally {
    await cleanup();
  }
}

const watchdog = setTimeout(() => {
  check("finished in time", false, `${TOTAL_TIMEOUT_MS} ms`);
  console.log(`browser: ${passed} passed, ${failed} failed`);
  process.exit(1);
}, TOTAL_TIMEOUT_MS);

await main();
clearTimeout(watchdog);
console.log(`browser: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
