// The fleet page's weight and first render, measured in headless Chromium
// against a paddock holding a large fleet (benches/console/main.rs seeds it
// and runs this). For each view, LOADS fresh page loads (the first cold, the
// rest revalidating the assets as a return visit does), reading the page's
// own performance marks (fleet.js): when the fleet's answer came, and the
// frame after it was in the DOM. Writes RESULTS (JSON) and a table beside it
// (.md); prints the table.
//
// Environment: PADDOCK_URL, PADDOCK_TOKEN, LOADS, RUNNERS, RESULTS, CHROMIUM.

import { writeFileSync } from "node:fs";
import { chromium } from "playwright-core";

const URL_ = process.env.PADDOCK_URL;
const TOKEN = process.env.PADDOCK_TOKEN;
const LOADS = Number(process.env.LOADS || 15);
const RUNNERS = Number(process.env.RUNNERS || 0);
const RESULTS = process.env.RESULTS;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

async function api(method, body) {
  const res = await fetch(`${URL_}/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method}: ${await res.text()}`);
  return res.json();
}

/** The page token of the fleet's last page of 50: walked 100 at a time, then 50. */
async function lastPageToken() {
  const page = (token, pageSize) => api("paddock.v1.FleetService/ListFleetRunners", { pagination: { pageSize, token } });
  let token = "";
  for (;;) {
    const next = (await page(token, 100)).pagination?.nextToken || "";
    if (!next) break;
    token = next;
  }
  // `token` starts the last page of 100 (or fewer): its last 50 start at most one page of 50 on
  for (;;) {
    const next = (await page(token, 50)).pagination?.nextToken || "";
    if (!next) return token;
    token = next;
  }
}

function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function measure(page, path) {
  const loads = [];
  const cdp = await page.context().newCDPSession(page);
  for (let i = 0; i < LOADS; i++) {
    // the first load of each view as a first visit: nothing cached
    if (i === 0) await cdp.send("Network.clearBrowserCache");
    await page.goto(`${URL_}${path}`);
    await page.waitForFunction(() => performance.getEntriesByName("fleet:painted").length > 0, null, { timeout: 30_000 });
    loads.push(
      await page.evaluate(() => {
        const mark = (name) => performance.getEntriesByName(name)[0].startTime;
        const api = performance
          .getEntriesByType("resource")
          .find((r) => r.name.endsWith("/paddock.v1.FleetService/ListFleetRunners"));
        const bytes = performance
          .getEntriesByType("resource")
          .concat(performance.getEntriesByType("navigation"))
          .reduce((sum, r) => sum + (r.transferSize || 0), 0);
        const rows = document.querySelectorAll("tbody tr[data-runner]").length;
        return {
          apiMs: api ? api.responseEnd - api.startTime : NaN,
          answerToDomMs: mark("fleet:rendered") - mark("fleet:answered"),
          answerToScreenMs: mark("fleet:painted") - mark("fleet:answered"),
          navigationToScreenMs: mark("fleet:painted"),
          transferred: bytes,
          rows,
        };
      }),
    );
  }
  return loads;
}

async function main() {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.addInitScript((token) => sessionStorage.setItem("paddock.token", token), TOKEN);
    const page = await context.newPage();
    const last = await lastPageToken();
    const views = [
      ["first page", "/fleet"],
      ["stale (10 %)", "/fleet?state=stale"],
      ["degraded on AWS (1.7 %)", "/fleet?state=degraded&provider=aws-ec2"],
      ["outdated in one region", "/fleet?version=outdated&region=us-east-1"],
      ["search (one match)", "/fleet?q=runner-09999"],
      ["last page", `/fleet?page=${encodeURIComponent(last)}`],
    ];
    const results = { runners: RUNNERS, loads: LOADS, views: [] };
    for (const [name, path] of views) {
      const loads = await measure(page, path);
      const pick = (key) => loads.map((l) => l[key]);
      results.views.push({
        name,
        path: path.length > 60 ? `${path.slice(0, 57)}…` : path,
        rows: loads[0].rows,
        coldBytes: loads[0].transferred,
        warmBytes: quantile(pick("transferred").slice(1), 0.5),
        api: { p50: quantile(pick("apiMs"), 0.5), p95: quantile(pick("apiMs"), 0.95) },
        answerToScreen: { p50: quantile(pick("answerToScreenMs"), 0.5), p95: quantile(pick("answerToScreenMs"), 0.95), max: Math.max(...pick("answerToScreenMs")) },
        answerToDom: { p50: quantile(pick("answerToDomMs"), 0.5) },
        navigationToScreen: { p50: quantile(pick("navigationToScreenMs"), 0.5) },
      });
    }
    const f = (n) => n.toFixed(1);
    const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
    const lines = [
      `Fleet page at ${RUNNERS.toLocaleString("en")} runners, ${LOADS} loads per view (headless Chromium, SQLite, release build; \`make bench-console\`)`,
      "",
      "| view | rows | API answer p50 / p95 (ms) | answer → on screen p50 / p95 / max (ms) | of which answer → DOM p50 (ms) | navigation → on screen p50 (ms) | first visit | return visit |",
      "|---|---|---|---|---|---|---|---|",
      ...results.views.map(
        (v) =>
          `| ${v.name} | ${v.rows} | ${f(v.api.p50)} / ${f(v.api.p95)} | ${f(v.answerToScreen.p50)} / ${f(v.answerToScreen.p95)} / ${f(v.answerToScreen.max)} | ${f(v.answerToDom.p50)} | ${f(v.navigationToScreen.p50)} | ${kb(v.coldBytes)} | ${kb(v.warmBytes)} |`,
      ),
    ];
    const table = lines.join("\n");
    console.log(table);
    if (RESULTS) {
      writeFileSync(RESULTS, JSON.stringify(results, null, 2));
      writeFileSync(RESULTS.replace(/\.json$/, ".md"), `${table}\n`);
    }
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
