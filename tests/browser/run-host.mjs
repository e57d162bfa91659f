// Drives the scorecard view in headless Chromium inside the test host (host.html + host.js, which
// use the real AppBridge of @modelcontextprotocol/ext-apps) and reports what it rendered.
//
//   node run-host.mjs SCENARIO.json OUT_DIR
//
// SCENARIO.json (written by tests/test_scorecard_browser.py from real server results):
//   html, tool, arguments, result       the ui:// resource, the tool, its call and its result
//   answers: [{request, result}]        tools/call requests the host answers, and the answers
//   whatIf: {metric, value}             the change to make in the view's form
//   hostile: {result}                   a second result whose creator strings are markup
//   theme (optional)                    "light" (default) or "dark", sent in the host context
// OUT_DIR receives report.json and the screenshots scorecard-720.png and scorecard-360.png.
// Chromium: $CHROMIUM_PATH or /usr/bin/chromium. Exit 0 with a report, 1 on any failure.

import { readFile, writeFile } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const STEP_TIMEOUT = 15_000;
// Flags for a closed network: nothing in the background may try to reach the internet.
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

async function hostBundle() {
  const result = await esbuild.build({
    entryPoints: [path.join(here, "host.js")],
    bundle: true,
    write: false,
    format: "iife",
    platform: "browser",
    target: "es2022",
    logLevel: "warning",
  });
  return result.outputFiles[0].text;
}

function serve(routes, requests) {
  const server = http.createServer((request, response) => {
    const url = new URL(request.url, "http://127.0.0.1");
    requests.push(url.pathname);
    const route = routes[url.pathname];
    if (!route) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": route.type, "cache-control": "no-store" });
    response.end(route.body);
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

// Everything the view shows that the test checks, read from its DOM.
function readView() {
  const text = (selector) => document.querySelector(selector)?.textContent ?? null;
  return {
    state: document.body.dataset.state,
    creator: text("#creator"),
    creatorMeta: text("#creator-meta"),
    overall: text("#overall"),
    band: text("#band"),
    delta: document.querySelector("#delta").hidden ? null : text("#delta"),
    status: text("#whatif-status"),
    tiers: [...document.querySelectorAll(".tier")].map((tier) => ({
      tier: Number(tier.dataset.tier),
      heading: tier.querySelector("h3").textContent,
      kpis: [...tier.querySelectorAll(".kpi")].map((row) => {
        const bar = row.querySelector(".bar");
        return {
          kpi: row.dataset.kpi,
          name: row.querySelector(".kpi-name").textContent,
          role: bar.getAttribute("role"),
          label: bar.getAttribute("aria-label"),
          valueNow: bar.getAttribute("aria-valuenow"),
          valueText: bar.getAttribute("aria-valuetext"),
          benchmark: row.querySelector(".mark").dataset.benchmark,
          fill: row.querySelector(".fill")?.style.width ?? null,
        };
      }),
    })),
    bottlenecks: [...document.querySelectorAll("#bottlenecks > li[data-kpi]")].map((li) => ({
      kpi: li.dataset.kpi,
      impact: li.querySelector(".pill").textContent,
    })),
    recommendations: [...document.querySelectorAll("#recommendations > li[data-recommendation]")].map(
      (li) => ({ id: li.dataset.recommendation, title: li.querySelector("strong").textContent }),
    ),
    schemes: [...document.querySelectorAll(".scheme")].map((box) => ({
      name: box.dataset.scheme,
      score: box.querySelector(".scheme-score").textContent,
      used: box.classList.contains("used"),
    })),
    weightRows: [...document.querySelectorAll("#weights-body tr[data-kpi]")].map((row) => ({
      kpi: row.dataset.kpi,
      cells: [...row.querySelectorAll("td")].map((cell) => cell.textContent),
    })),
    markupElements: document.querySelectorAll("#content img, #content script, #content b").length,
    overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
  };
}

async function viewFrame(page) {
  const handle = await page.waitForSelector("#frame", { timeout: STEP_TIMEOUT });
  const frame = await handle.contentFrame();
  if (!frame) throw new Error("the host page has no view frame");
  return frame;
}

async function settle(page, frame, state) {
  await frame.waitForSelector(`body[data-state="${state}"]`, { timeout: STEP_TIMEOUT });
  // The host sizes the iframe from the view's size-changed notifications: wait until the frame
  // is as tall as the view's content (measured as the App class measures it).
  const content = await frame.evaluate(() => {
    const root = document.documentElement;
    const before = root.style.height;
    root.style.height = "max-content";
    const height = Math.ceil(root.getBoundingClientRect().height);
    root.style.height = before;
    return height;
  });
  await page.waitForFunction(
    (height) => document.getElementById("frame").clientHeight >= height,
    content,
    { timeout: STEP_TIMEOUT },
  );
}

// A screenshot of the whole host page at this width. The viewport is made as tall as the page
// first: Chromium paints a sandboxed (out-of-process) iframe only near the viewport.
async function shoot(page, frame, width, file) {
  await page.setViewportSize({ width, height: 800 });
  await settle(page, frame, "ready");
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  await page.setViewportSize({ width, height });
  await settle(page, frame, "ready");
  await page.screenshot({ path: file });
}

async function run(scenarioPath, outDir) {
  const scenario = JSON.parse(await readFile(scenarioPath, "utf8"));
  const requests = [];
  const server = await serve(
    {
      "/": { type: "text/html; charset=utf-8", body: await readFile(path.join(here, "host.html")) },
      "/host.js": { type: "text/javascript; charset=utf-8", body: await hostBundle() },
      "/scenario.json": { type: "application/json", body: JSON.stringify(scenario) },
    },
    requests,
  );
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: CHROMIUM_ARGS,
    timeout: 30_000,
  });
  const console_ = [];
  const browserRequests = [];
  try {
    const page = await browser.newPage({ viewport: { width: 720, height: 900 } });
    page.on("console", (message) => console_.push(`${message.type()}: ${message.text()}`));
    page.on("pageerror", (error) => console_.push(`pageerror: ${error.message}`));
    page.on("request", (request) => browserRequests.push(request.url()));
    await page.goto(`${origin}/`, { waitUntil: "load", timeout: STEP_TIMEOUT });
    const frame = await viewFrame(page);
    await settle(page, frame, "ready");
    const initial = await frame.evaluate(readView);
    await shoot(page, frame, 720, path.join(outDir, "scorecard-720.png"));

    // What-if, by keyboard: pick the metric, type the value, Tab reaches the button, Enter submits.
    await frame.selectOption("#whatif-metric", scenario.whatIf.metric);
    await frame.fill("#whatif-value", String(scenario.whatIf.value));
    await frame.focus("#whatif-value");
    await page.keyboard.press("Tab");
    const focusAfterTab = await frame.evaluate(() => document.activeElement?.id ?? null);
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => window.hostLog.calls.length > 0, null, { timeout: STEP_TIMEOUT });
    await frame.waitForFunction(
      () => document.body.dataset.state === "ready" && document.querySelector("#whatif-status").textContent.startsWith("Re-scored"),
      null,
      { timeout: STEP_TIMEOUT },
    );
    await settle(page, frame, "ready");
    const afterWhatIf = await frame.evaluate(readView);
    const calls = await page.evaluate(() => window.hostLog.calls);
    await shoot(page, frame, 720, path.join(outDir, "scorecard-whatif-720.png"));

    // Legible at 360 px: no horizontal scrolling inside the view.
    await shoot(page, frame, 360, path.join(outDir, "scorecard-360.png"));
    const narrow = await frame.evaluate(readView);

    // A second result whose creator strings are markup: they must show as text.
    await page.evaluate((result) => window.sendToolResult(result), scenario.hostile.result);
    await frame.waitForFunction(
      (expected) => document.querySelector("#creator").textContent === expected,
      scenario.hostile.result.structuredContent.creator_id,
      { timeout: STEP_TIMEOUT },
    );
    const hostile = await frame.evaluate(readView);
    const hostLog = await page.evaluate(() => window.hostLog);

    const report = {
      initial,
      afterWhatIf,
      narrow,
      hostile,
      calls,
      focusAfterTab,
      hostLog: { initialized: hostLog.initialized, results: hostLog.results, error: hostLog.error ?? null },
      serverRequests: requests,
      browserRequests: browserRequests.map((url) => (url.startsWith(origin) ? url.slice(origin.length) : url)),
      console: console_,
    };
    await writeFile(path.join(outDir, "report.json"), JSON.stringify(report, null, 2));
  } catch (error) {
    await writeFile(path.join(outDir, "console.log"), console_.join("\n"));
    throw error;
  } finally {
    await browser.close();
    server.close();
  }
}

const [scenarioPath, outDir] = process.argv.slice(2);
if (!scenarioPath || !outDir) {
  console.error("usage: node run-host.mjs SCENARIO.json OUT_DIR");
  process.exit(2);
}
try {
  await run(scenarioPath, outDir);
} catch (error) {
  console.error(error && error.stack ? error.stack : error);
  process.exit(1);
}
