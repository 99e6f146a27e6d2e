// The console in headless Chromium, against the real binary: signing in, the
// fleet's counts and table, a runner created through the API appearing live,
// deleting the one selected behind a confirmation, signing out; the security
// headers; and screenshots of each page at 1280 and 390 pixels wide into
// docs/console/. Prints one line per check and, last,
// `console: N passed, M failed`; exits non-zero on any failure.
//
// Environment: PADDOCK_BIN, CHROMIUM (as test.mjs), CONSOLE_SCREENSHOTS (the
// directory for the screenshots; default ../../docs/console).

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const PADDOCK_BIN = path.resolve(here, process.env.PADDOCK_BIN || "../../target/debug/paddock");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SHOTS = path.resolve(here, process.env.CONSOLE_SCREENSHOTS || "../../docs/console");
const WIDTHS = [1280, 390];

let passed = 0;
let failed = 0;
function check(name, ok, detail = "") {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? "ok" : "FAIL"} ${name}${ok || !detail ? "" : `: ${detail}`}`);
}

function startPaddock(workdir, token) {
  const env = { ...process.env, PADDOCK_ADMIN_TOKEN: token, NO_COLOR: "1" };
  for (const k of ["DATABASE_URL", "PADDOCK_LISTEN", "PADDOCK_SECRET_KEY_FILE"]) delete env[k];
  const child = spawn(
    PADDOCK_BIN,
    ["--database-url", `sqlite://${path.join(workdir, "p.db")}`, "serve", "--listen", "127.0.0.1:0"],
    { cwd: workdir, env, stdio: ["ignore", "ignore", "pipe"] },
  );
  let log = "";
  const url = new Promise((resolve, reject) => {
    child.on("exit", (code) => reject(new Error(`paddock exited (${code}): ${log}`)));
    child.stderr.on("data", (d) => {
      log += d;
      // eslint-disable-next-line no-control-regex
      const m = log.replace(/\x1b\[[0-9;]*m/g, "").match(/listen=(127\.0\.0\.1:\d+)/);
      if (m) resolve(`http://${m[1]}`);
    });
  });
  return { child, url, log: () => log };
}

async function api(url, token, method, body) {
  const res = await fetch(`${url}/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const data = await res.json();
  if (!res.ok) throw new Error(`${method}: ${JSON.stringify(data)}`);
  return data;
}

async function shoot(page, name) {
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: width > 600 ? 800 : 844 });
    await page.screenshot({ path: path.join(SHOTS, `${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

async function main() {
  const workdir = mkdtempSync(path.join(tmpdir(), "paddock-console-"));
  const token = `console-${randomBytes(12).toString("hex")}`;
  const paddock = startPaddock(workdir, token);
  let browser;
  try {
    const url = await paddock.url;
    mkdirSync(SHOTS, { recursive: true });

    const home = await fetch(`${url}/`);
    const csp = home.headers.get("content-security-policy") || "";
    check("the console is served at / with a strict CSP", home.ok && csp.includes("default-src 'none'") && csp.includes("script-src 'self'"), csp);
    check("and nosniff, no framing", home.headers.get("x-content-type-options") === "nosniff" && home.headers.get("x-frame-options") === "DENY");
    const apiStill = await fetch(`${url}/gitpod.v1.RunnerService/ListRunners`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    check("API paths are the API's still", apiStill.status === 401);

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));

    await page.goto(`${url}/fleet`);
    await page.waitForSelector("#token");
    check("signed out, the fleet asks to sign in", new URL(page.url()).pathname === "/sign-in");
    await shoot(page, "sign-in");
    await page.fill("#token", "pdk_pat_not-a-real-token");
    await page.click("button[type=submit]");
    await page.waitForSelector(".error:not(:empty)");
    check("a wrong token is refused, and said so", (await page.textContent(".error")).length > 0);
    errors.length = 0; // (the browser logs the refused call's 401)

    await page.fill("#token", token);
    await page.click("button[type=submit]");
    await page.waitForSelector(".tiles .tile");
    check("signed in, the fleet shows", new URL(page.url()).pathname === "/fleet");
    check("the token is in no URL", !page.url().includes(token));
    check("the token is in this tab's sessionStorage", (await page.evaluate(() => sessionStorage.getItem("paddock.token"))) === token);

    // a runner created elsewhere appears without a reload
    const created = await api(url, token, "gitpod.v1.RunnerService/CreateRunner", {
      name: "appears-live",
      provider: "RUNNER_PROVIDER_LINUX_HOST",
    });
    const runnerId = created.runner.runnerId;
    const row = await page.waitForSelector(`tr[data-runner="${runnerId}"]`, { timeout: 10_000 }).catch(() => null);
    check("a runner created through the API appears live", !!row);
    const total = await page.textContent(".tiles .tile .count");
    check("the counts follow", total === "1", total);
    await shoot(page, "fleet");

    const deleteButton = page.locator("button.danger", { hasText: "Delete" }).first();
    check("nothing selected: deleting is not offered", await deleteButton.isDisabled());
    await page.check(`tr[data-runner="${runnerId}"] input[type=checkbox]`);
    check("one selected: 'Delete 1 runner'", (await deleteButton.textContent()) === "Delete 1 runner");
    await deleteButton.click();
    await page.waitForSelector("dialog[open]");
    await shoot(page, "fleet-confirm-delete");
    await page.click("dialog[open] button.danger");
    await page.waitForSelector(`tr[data-runner="${runnerId}"]`, { state: "detached", timeout: 10_000 });
    const left = await api(url, token, "gitpod.v1.RunnerService/ListRunners", {});
    check("the confirmed deletion deleted exactly that runner", (left.runners || []).length === 0);

    // the runner page
    const second = await api(url, token, "gitpod.v1.RunnerService/CreateRunner", {
      name: "detailed",
      provider: "RUNNER_PROVIDER_LINUX_HOST",
    });
    await page.waitForSelector(`tr[data-runner="${second.runner.runnerId}"] a`);
    await page.click(`tr[data-runner="${second.runner.runnerId}"] a`);
    await page.waitForSelector(".details dd");
    check("a runner's page shows it", (await page.textContent("h1")) === "detailed");
    await shoot(page, "runner");

    await page.click("#sign-out");
    await page.waitForSelector("#token");
    check("signing out forgets the token", (await page.evaluate(() => sessionStorage.getItem("paddock.token"))) === null);
    check("no script errors", errors.length === 0, errors.join("; "));
  } catch (e) {
    check("the console test ran to its end", false, e.stack || String(e));
  } finally {
    if (browser) await browser.close();
    paddock.child.kill("SIGTERM");
    rmSync(workdir, { recursive: true, force: true });
  }
  console.log(`console: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main();
