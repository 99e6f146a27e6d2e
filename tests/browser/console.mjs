// The console in headless Chromium, against the real binary, as a person
// uses it: signing in; a runner created by the official SDK appearing live;
// creating a runner in the console and copying its exchange token; the
// reference agent started with it turning the runner ACTIVE, and killed,
// INACTIVE — live; revoking a credential; filtering and paging through
// 10,000 runners (filters kept in the address bar); a confirmed bulk delete;
// groups, the audit log and personal access tokens; every fleet tile a
// number (the one expected) whatever proto3 JSON leaves out; labels on every
// control, no sideways scrolling and every table cell whole at 390 px (a
// runner's state, heartbeat, version and region); the security headers; and
// screenshots of each page at 1280 and 390 pixels wide into docs/console/.
// Prints one line per check and, last, `console: N passed, M failed`; exits
// non-zero on any failure.
//
// Environment: PADDOCK_BIN, CHROMIUM (as test.mjs), SDK_PYTHON (the Python
// of scripts/sdk-venv, with gitpod-sdk), CONSOLE_SCREENSHOTS (the directory
// for the screenshots; default ../../docs/console), BROWSER_TEST_PIDFILE.

import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const PADDOCK_BIN = path.resolve(here, process.env.PADDOCK_BIN || "../../target/debug/paddock");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SHOTS = path.resolve(here, process.env.CONSOLE_SCREENSHOTS || "../../docs/console");
const WIDTHS = [1280, 390];
const SDK_PYTHON = process.env.SDK_PYTHON || "python3";
const PIDFILE = process.env.BROWSER_TEST_PIDFILE || "";
const BULK = 10_000;

function remember(pid) {
  if (PIDFILE && pid) appendFileSync(PIDFILE, `${pid}\n`);
}

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
    // a short lease: a killed agent's runner goes INACTIVE within seconds
    [
      "--database-url",
      `sqlite://${path.join(workdir, "p.db")}`,
      "serve",
      "--runner-lease",
      "2s",
      "--runner-lease-grace",
      "1s",
      "--listen",
      "127.0.0.1:0",
    ],
    { cwd: workdir, env, stdio: ["ignore", "ignore", "pipe"] },
  );
  remember(child.pid);
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

/** Creates a runner through the official Python SDK (gitpod-sdk), as a script would. */
function sdkCreateRunner(url, token, name) {
  const script = `
import os
from gitpod.v1 import runner_pb2, runner_configuration_pb2
from gitpod.v1.runner_connect import RunnerServiceClientSync
client = RunnerServiceClientSync(os.environ["PADDOCK_URL"] + "/api")
answer = client.create_runner(
    runner_pb2.CreateRunnerRequest(name=os.environ["RUNNER_NAME"], provider=runner_configuration_pb2.RUNNER_PROVIDER_LINUX_HOST),
    headers={"authorization": "Bearer " + os.environ["PADDOCK_TOKEN"]},
)
print(answer.runner.runner_id)
`;
  return new Promise((resolve, reject) =>
    execFile(
      SDK_PYTHON,
      ["-c", script],
      { env: { ...process.env, PADDOCK_URL: url, PADDOCK_TOKEN: token, RUNNER_NAME: name } },
      (error, stdout, stderr) => (error ? reject(new Error(`${error.message}: ${stderr}`)) : resolve(stdout.trim())),
    ),
  );
}

/** `count` runners through the API, `parallel` calls at a time; every tenth on AWS. */
async function seed(url, token, count, parallel = 8) {
  let next = 0;
  async function worker() {
    while (next < count) {
      const i = next++;
      await api(url, token, "gitpod.v1.RunnerService/CreateRunner", {
        name: `bulk-${String(i).padStart(5, "0")}`,
        provider: i % 10 === 0 ? "RUNNER_PROVIDER_AWS_EC2" : "RUNNER_PROVIDER_LINUX_HOST",
      });
    }
  }
  await Promise.all(Array.from({ length: parallel }, worker));
}

/** Controls without a name a screen reader could read out. */
async function unlabelled(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll("input, select, textarea, button, a[href]")]
      .filter((e) => e.offsetParent !== null || e.type === "checkbox")
      .filter((e) => {
        if (e.getAttribute("aria-label") || e.getAttribute("aria-labelledby")) return false;
        if (["INPUT", "SELECT", "TEXTAREA"].includes(e.tagName)) return !(e.labels && e.labels.length);
        return !e.textContent.trim();
      })
      .map((e) => e.outerHTML.slice(0, 80)),
  );
}

/** Whether the page scrolls sideways at 390 px (tables scroll inside their own box). */
async function overflowsNarrow(page) {
  await page.setViewportSize({ width: 390, height: 844 });
  const wide = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  await page.setViewportSize({ width: 1280, height: 800 });
  return wide;
}

/**
 * Text whose contrast with what is behind it is under WCAG AA: 4.5:1, or 3:1
 * for large text (24 px, or 18.66 px bold). Disabled controls are exempt.
 */
async function lowContrast(page) {
  return page.evaluate(() => {
    const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
    const luminance = ([r, g, b]) => {
      const lin = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
      return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
    };
    const background = (element) => {
      for (let e = element; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
      }
      return [255, 255, 255];
    };
    const failures = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const element = node.parentElement;
      if (!node.textContent.trim() || !element || element.offsetParent === null) continue;
      if (element.closest("[disabled], .visually-hidden, option")) continue;
      const style = getComputedStyle(element);
      const [a, b] = [luminance(rgb(style.color)), luminance(background(element))];
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) failures.push(`${node.textContent.trim().slice(0, 30)} (${ratio.toFixed(2)})`);
    }
    return [...new Set(failures)];
  });
}

/**
 * At 390 px, the cells (of `rows`, a selector) that do not read whole: not
 * shown, cut off by their table's box or the window, or their text cut short
 * (wider than the cell, or ended with an ellipsis). Each as "row: cell: why".
 */
async function clippedCells(page, rows = "tbody tr") {
  await page.setViewportSize({ width: 390, height: 844 });
  const problems = await page.$$eval(rows, (trs) => {
    const found = [];
    for (const [r, tr] of trs.entries()) {
      const box = (tr.closest(".scroll") || document.documentElement).getBoundingClientRect();
      for (const [c, td] of [...tr.cells].entries()) {
        const style = getComputedStyle(td);
        // a card leaves out a cell with nothing in it
        if (style.display === "none" && !td.textContent.trim() && !td.querySelector("input, button")) continue;
        const where = `row ${r + 1} (${tr.getAttribute("data-runner") || tr.textContent.trim().slice(0, 20)}): cell ${c + 1} "${td.textContent.trim().slice(0, 24)}"`;
        const rect = td.getBoundingClientRect();
        if (style.display === "none" || style.visibility !== "visible" || rect.width === 0 || rect.height === 0) {
          found.push(`${where}: not shown`);
          continue;
        }
        if (rect.left < box.left - 0.5 || rect.right > box.right + 0.5 || rect.left < 0 || rect.right > window.innerWidth) {
          found.push(`${where}: cut off (${Math.round(rect.left)}–${Math.round(rect.right)} px of ${Math.round(box.left)}–${Math.round(box.right)})`);
        }
        if (td.scrollWidth > td.clientWidth + 1) found.push(`${where}: wider than the cell`);
        for (const e of [td, ...td.querySelectorAll("*")]) {
          const s = getComputedStyle(e);
          if (e !== td && s.overflowX !== "visible" && e.scrollWidth > e.clientWidth + 1) found.push(`${where}: ${e.tagName} cuts its text`);
          if (s.textOverflow === "ellipsis" || /…$/.test(e.innerText || "")) found.push(`${where}: ${e.tagName} ends with an ellipsis`);
        }
      }
    }
    return found;
  });
  await page.setViewportSize({ width: 1280, height: 800 });
  return problems;
}

async function accessible(page, name) {
  const missing = await unlabelled(page);
  check(`${name}: every control has a name`, missing.length === 0, missing.join(" | "));
  const faint = await lowContrast(page);
  check(`${name}: text contrast at least WCAG AA`, faint.length === 0, faint.slice(0, 5).join(" | "));
  check(`${name}: no sideways scrolling at 390 px`, !(await overflowsNarrow(page)));
  const clipped = await clippedCells(page);
  check(`${name}: every table cell reads whole at 390 px`, clipped.length === 0, clipped.slice(0, 5).join(" | "));
}

/** The fleet's tiles: [what it counts, the count shown, its aria-label], in order. */
async function tiles(page) {
  return page.$$eval(".tiles .tile", (all) =>
    all.map((t) => [t.lastElementChild?.textContent, t.querySelector(".count")?.textContent, t.getAttribute("aria-label")]),
  );
}

/**
 * Every tile shows digits (proto3 JSON leaves a zero count out and writes
 * int64 as a string: neither may show as NaN, undefined or a blank), and
 * the count `expected` says, read out the same.
 */
async function tilesRead(page, name, expected) {
  const shown = await tiles(page);
  const notDigits = shown.filter(([, count]) => !/^\d+$/.test(count ?? ""));
  check(`${name}: every tile shows digits`, shown.length === 8 && notDigits.length === 0, JSON.stringify(shown));
  const wrong = Object.entries(expected).filter(([label, count]) => {
    const tile = shown.find(([l]) => l === label);
    return !tile || tile[1] !== String(count) || tile[2] !== `${count} ${label}`;
  });
  check(
    `${name}: each tile counts what it should (${Object.entries(expected).map(([l, c]) => `${c} ${l}`).join(", ")})`,
    wrong.length === 0,
    `shown: ${shown.map(([l, c]) => `${c} ${l}`).join(", ")}`,
  );
}

async function rowsShown(page) {
  return page.$$eval("tbody tr[data-runner]", (rows) => rows.map((r) => r.getAttribute("data-runner")));
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
    const script = await fetch(`${url}/assets/app.js`, { headers: { "accept-encoding": "gzip" } });
    const plain = await fetch(`${url}/assets/app.js`, { headers: { "accept-encoding": "identity" } });
    check(
      "its scripts gzipped for browsers that take it, plain for those that do not",
      script.headers.get("content-encoding") === "gzip" && !plain.headers.get("content-encoding") && (await script.text()) === (await plain.text()),
    );
    const apiStill = await fetch(`${url}/gitpod.v1.RunnerService/ListRunners`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    check("API paths are the API's still", apiStill.status === 401);

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: url });
    const page = await context.newPage();
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
    // no runner yet: GetFleetSummary answers {} (every count left out)
    const none = { total: 0, active: 0, inactive: 0, degraded: 0, deleting: 0, "never connected": 0, stale: 0, outdated: 0 };
    await tilesRead(page, "an empty fleet", none);
    check("the personal access token is in no URL", !page.url().includes(token));
    check("the token is in this tab's sessionStorage", (await page.evaluate(() => sessionStorage.getItem("paddock.token"))) === token);

    // a runner created by the SDK appears without a reload
    const sdkRunner = await sdkCreateRunner(url, token, "appears-live");
    const row = await page.waitForSelector(`tr[data-runner="${sdkRunner}"]`, { timeout: 10_000 }).catch(() => null);
    check("a runner created by the SDK appears live", !!row);
    const total = await page.textContent(".tiles .tile .count");
    check("the counts follow", total === "1", total);
    // some counts 0 (left out of the answer), some not ("1", a string)
    await tilesRead(page, "one runner never connected", { ...none, total: 1, "never connected": 1 });
    check("never connected: 'never' for its last heartbeat", (await page.textContent(`tr[data-runner="${sdkRunner}"]`)).includes("never"));
    await accessible(page, "the fleet");

    // the keyboard: "Skip to content", first in the tab order, moves focus to the page
    await page.focus("a.brand");
    await page.keyboard.press("Shift+Tab");
    const skip = await page.evaluate(() => document.activeElement?.textContent);
    await page.keyboard.press("Enter");
    const landed = await page.evaluate(() => document.activeElement?.id);
    check("keyboard: Skip to content, then Enter, lands on the page", skip === "Skip to content" && landed === "main", `${skip} → ${landed}`);

    const deleteButton = page.locator("button.danger", { hasText: "Delete" }).first();
    check("nothing selected: deleting is not offered", await deleteButton.isDisabled());
    // selected with the keyboard, and a confirmation dismissed with Escape deletes nothing
    await page.focus(`tr[data-runner="${sdkRunner}"] input[type=checkbox]`);
    await page.keyboard.press("Space");
    await deleteButton.click();
    await page.waitForSelector("dialog[open]");
    await page.keyboard.press("Escape");
    await page.waitForSelector("dialog[open]", { state: "detached" });
    const kept = await api(url, token, "gitpod.v1.RunnerService/ListRunners", {});
    check("Escape on the confirmation deletes nothing", (kept.runners || []).length === 1);
    await page.uncheck(`tr[data-runner="${sdkRunner}"] input[type=checkbox]`);
    await page.check(`tr[data-runner="${sdkRunner}"] input[type=checkbox]`);
    check("one selected: 'Delete 1 runner'", (await deleteButton.textContent()) === "Delete 1 runner");
    await deleteButton.click();
    await page.waitForSelector("dialog[open]");
    await shoot(page, "fleet-confirm-delete");
    await page.click("dialog[open] button.danger");
    await page.waitForSelector(`tr[data-runner="${sdkRunner}"]`, { state: "detached", timeout: 10_000 });
    const left = await api(url, token, "gitpod.v1.RunnerService/ListRunners", {});
    check("the confirmed deletion deleted exactly that runner", (left.runners || []).length === 0);

    // a runner created in the console: its exchange token shown once, copied
    await page.click("a[href='/runners/new']");
    await page.waitForSelector("#name");
    await accessible(page, "new runner");
    await shoot(page, "runner-new");
    await page.fill("#name", "agent-host");
    await page.fill("#region", "eu-central-1");
    await page.click("button[type=submit]");
    await page.waitForSelector(".once input.secret");
    const shownToken = await page.inputValue(".once input.secret");
    await page.click(".once button");
    await page.waitForSelector(".once [role=status]:has-text('Copied')");
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    check("the exchange token is shown and copied", copied === shownToken && shownToken.startsWith("pdk_"), shownToken.slice(0, 8));
    await page.waitForFunction(() => /^23 h/.test(document.getElementById("expires")?.textContent || ""), null, { timeout: 5000 }).catch(() => null);
    const countdown = await page.textContent("#expires");
    check("with its expiry counting down", /^23 h 5\d min$/.test(countdown), countdown);
    const command = await page.textContent("pre.command");
    check("and the agent command line to paste", command.includes(`--server '${url}'`) && command.includes(copied) && command.includes("--region 'eu-central-1'"), command);
    check("the token is in no URL", !page.url().includes(copied));
    await shoot(page, "runner-created");

    // the agent started with the copied token: ACTIVE, then killed: INACTIVE
    await page.click("a:has-text('Go to agent-host')");
    await page.waitForSelector(".details dd");
    const agentRunnerId = new URL(page.url()).pathname.split("/").pop();
    const agent = spawn(
      PADDOCK_BIN,
      ["agent", "--server", url, "--exchange-token", copied, "--state-file", path.join(workdir, "agent.json"), "--name", "console-test", "--region", "eu-central-1", "--environment-class", "small,large"],
      { cwd: workdir, stdio: "ignore", env: { ...process.env, NO_COLOR: "1" } },
    );
    remember(agent.pid);
    const active = await page
      .waitForSelector(".details .badge.good:has-text('active')", { timeout: 20_000 })
      .catch(() => null);
    check("the agent started: the runner turns ACTIVE live", !!active);
    const classes = await page
      .waitForSelector("section[aria-label='Environment classes'] td:has-text('large')", { timeout: 10_000 })
      .catch(() => null);
    check("with the environment classes it offers", !!classes);
    await page.waitForSelector("[data-token]");
    await shoot(page, "runner");
    await accessible(page, "a runner");
    agent.kill("SIGKILL");
    const inactive = await page
      .waitForSelector(".details .badge:has-text('inactive')", { timeout: 20_000 })
      .catch(() => null);
    check("the agent killed: the runner turns INACTIVE live", !!inactive);

    // revoking a credential: the agent's access token
    const before = await api(url, token, "paddock.v1.RunnerTokenService/ListRunnerTokens", { runnerId: agentRunnerId });
    const access = (before.tokens || []).find((t) => t.kind === "RUNNER_TOKEN_KIND_ACCESS" && t.active);
    check("the runner holds an active access token", !!access);
    await page.click(`button[data-token="${access?.id}"]`);
    await page.waitForSelector("dialog[open]");
    await page.click("dialog[open] button.danger");
    await page.waitForSelector(`button[data-token="${access?.id}"]`, { state: "detached" });
    const after = await api(url, token, "paddock.v1.RunnerTokenService/ListRunnerTokens", { runnerId: agentRunnerId, includeInactive: true });
    const revoked = (after.tokens || []).find((t) => t.id === access?.id);
    check("a revoked credential is revoked", !!revoked?.revokedAt && !revoked.active);
    // and a new access token, the old ones overlapping for the grace chosen
    await page.selectOption("#grace", "600s");
    await page.click("button:has-text('Rotate access token')");
    await page.waitForSelector("dialog[open]");
    await page.click("dialog[open] button.danger");
    await page.waitForSelector(".once input.secret");
    const rotated = await page.inputValue(".once input.secret");
    const itself = await fetch(`${url}/gitpod.v1.RunnerService/GetRunner`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${rotated}` },
      body: JSON.stringify({ runnerId: agentRunnerId }),
    });
    check("a rotated access token is shown once, and works", itself.ok && rotated.startsWith("pdk_"));
    const trail = await page
      .waitForSelector("section[aria-label='Audit trail'] td:has-text('runner.rotate_token')", { timeout: 5000 })
      .catch(() => null);
    check("the audit trail shows the revocation and the rotation", !!trail && (await page.textContent("section[aria-label='Audit trail']")).includes("runner.revoke_token"));
    await shoot(page, "runner-credentials");

    // 10,000 runners: filtered and paged through
    const seeded = Date.now();
    await seed(url, token, BULK);
    console.log(`# seeded ${BULK} runners in ${((Date.now() - seeded) / 1000).toFixed(1)} s`);
    await page.goto(`${url}/fleet?provider=aws-ec2`);
    await page.waitForSelector("tbody tr[data-runner]");
    const seen = new Set();
    let pages = 0;
    for (;;) {
      const ids = await rowsShown(page);
      ids.forEach((id) => seen.add(id));
      pages++;
      if (await page.isDisabled("button:has-text('Next')")) break;
      const first = ids[0];
      await page.click("button:has-text('Next')");
      await page.waitForFunction((id) => !document.querySelector(`tr[data-runner="${id}"]`), first);
      await page.waitForSelector("tbody tr[data-runner]");
    }
    check("paging a filter through 10,000 runners shows each match once", seen.size === BULK / 10 && pages === BULK / 10 / 50, `${seen.size} in ${pages} pages`);
    const aws = await api(url, token, "gitpod.v1.RunnerService/ListRunners", { filter: { providers: ["RUNNER_PROVIDER_AWS_EC2"] }, pagination: { pageSize: 100 } });
    check("and only the matches", (aws.runners || []).every((r) => seen.has(r.runnerId)));
    await page.click("button:has-text('Previous')");
    await page.waitForSelector("tbody tr[data-runner]");
    check("Previous goes back a page", (await page.isEnabled("button:has-text('Next')")) && new URL(page.url()).searchParams.get("provider") === "aws-ec2");
    await page.reload();
    await page.waitForSelector("tbody tr[data-runner]");
    check("a reload keeps the filter", (await page.inputValue("#provider")) === "aws-ec2");
    await page.fill("#search", "BULK-0424");
    await page.press("#search", "Enter");
    await page.waitForFunction(() => new URL(location.href).searchParams.get("q") === "BULK-0424");
    await page.waitForFunction(() => document.querySelectorAll("tbody tr[data-runner]").length === 1);
    const found = await page.textContent("tbody tr[data-runner] a");
    check("search and provider together: bulk-04240 only", found === "bulk-04240", found);
    await page.goto(`${url}/fleet?state=never-connected`);
    await page.waitForSelector("tbody tr[data-runner]");
    check("the state filter from the address bar", (await page.inputValue("#state")) === "never-connected" && (await page.$$("tbody .badge:has-text('never connected')")).length === 50);
    // revoking the credentials of the runners selected, behind a confirmation
    const [one, two] = await rowsShown(page);
    await page.check(`tr[data-runner="${one}"] input[type=checkbox]`);
    await page.check(`tr[data-runner="${two}"] input[type=checkbox]`);
    await page.click("button:has-text('Revoke credentials of 2 runners')");
    await page.waitForSelector("dialog[open]");
    await page.click("dialog[open] button.danger");
    await page.waitForSelector("[role=status]:has-text('2 revoked')");
    let working = 0;
    for (const runnerId of [one, two]) {
      working += ((await api(url, token, "paddock.v1.RunnerTokenService/ListRunnerTokens", { runnerId })).tokens || []).length;
    }
    check("revoking the credentials of 2 selected runners leaves them none", working === 0, `${working} still work`);
    await page.goto(`${url}/fleet`);
    await page.waitForSelector("tbody tr[data-runner]");
    // 10,000 created, agent-host killed (inactive, not yet stale), none outdated (no release)
    await tilesRead(page, "10,001 runners", { ...none, total: 10001, inactive: 1, "never connected": 10000 });
    // at 390 px a runner reads whole: its state, last heartbeat, version and region
    await page.setViewportSize({ width: 390, height: 844 });
    const agentRow = await page.$$eval(`tr[data-runner="${agentRunnerId}"] td`, (cells) =>
      Object.fromEntries(cells.map((td) => [td.getAttribute("data-label") || td.className, td.innerText.trim()])),
    );
    await page.setViewportSize({ width: 1280, height: 800 });
    check(
      "at 390 px agent-host reads: inactive, a heartbeat seconds ago, version 0.1.0, region eu-central-1",
      agentRow.state === "inactive" && /ago$|^now$/.test(agentRow["Last heartbeat"]) && /^0\.1\.0\s*no release$/.test(agentRow.Version) && agentRow.Region === "eu-central-1",
      JSON.stringify(agentRow),
    );
    const clipped = await clippedCells(page, "tbody tr[data-runner]");
    check("at 390 px every runner of the page reads whole (nothing cut off, no ellipsis)", clipped.length === 0, clipped.slice(0, 5).join(" | "));
    await shoot(page, "fleet");

    // groups, the audit log and tokens
    await page.click("nav a[href='/groups']");
    await page.fill("#group-name", "platform");
    await page.fill("#group-description", "The platform team");
    await page.click("button:has-text('Create group')");
    await page.waitForFunction(() => /^\/groups\/[0-9a-f-]{36}$/.test(location.pathname));
    await page.waitForSelector("h1:has-text('platform')");
    check("a group is created", true);
    await accessible(page, "a group");
    await shoot(page, "group");
    // who may use a runner: a group granted a role on its page
    await page.goto(`${url}/runners/${agentRunnerId}`);
    await page.waitForSelector("#policy-group");
    await page.selectOption("#policy-role", "RUNNER_ROLE_USER");
    await page.click("button:has-text('Grant')");
    await page.waitForSelector("section[aria-label='Who may use it'] td a:has-text('platform')");
    const granted = await api(url, token, "gitpod.v1.RunnerService/ListRunnerPolicies", { runnerId: agentRunnerId });
    check("a group granted a role on the runner", (granted.policies || []).some((p) => p.role === "RUNNER_ROLE_USER"));
    await page.goto(`${url}/groups`);
    await page.waitForSelector("td a:has-text('platform')");
    await accessible(page, "groups");
    await shoot(page, "groups");

    await page.click("nav a[href='/audit']");
    await page.waitForSelector("tbody tr td");
    check("the audit log lists what happened", (await page.textContent("tbody")).includes("runner.create"));
    await page.fill("#subject", agentRunnerId);
    await page.click("button:has-text('Filter')");
    await page.waitForFunction((id) => new URL(location.href).searchParams.get("subject") === id, agentRunnerId);
    await page.waitForFunction(() => document.querySelectorAll("tbody tr").length > 0 && !document.querySelector("tbody").textContent.includes("bulk"));
    const subjects = await page.$$eval("tbody tr td:nth-child(3)", (cells) => cells.map((c) => c.textContent));
    check("filtered to one runner's trail", subjects.length > 0 && subjects.every((t) => t.includes(agentRunnerId)), subjects.join(","));
    await accessible(page, "the audit log");
    await shoot(page, "audit");

    await page.click("nav a[href='/tokens']");
    await page.fill("#token-description", "laptop scripts");
    await page.click("button:has-text('Create token')");
    await page.waitForSelector(".once input.secret");
    const pat = await page.inputValue(".once input.secret");
    const me = await fetch(`${url}/gitpod.v1.UserService/GetAuthenticatedUser`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${pat}` },
      body: "{}",
    });
    check("a personal access token is made, shown once, and works", me.ok);
    await page.waitForSelector("td:has-text('laptop scripts')");
    await accessible(page, "tokens");
    await shoot(page, "tokens");

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
