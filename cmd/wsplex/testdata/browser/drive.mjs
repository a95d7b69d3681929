// Drives headless Chromium (Debian's /usr/bin/chromium) with playwright-core
// for the wsplex browser tests (cmd/wsplex/console_test.go):
//
//   node drive.mjs console   URL SCREENSHOT   load the dev console at URL, connect,
//                                             send a line, expect it echoed, close
//   node drive.mjs dashboard URL SCREENSHOT   load the dashboard, wait for points
//
// It prints one JSON object on stdout ({"ok":true,...} or {"ok":false,"error":...})
// and exits 0 either way unless it crashed. Every wait is bounded.
import { chromium } from "playwright-core";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const [mode, url, shot] = process.argv.slice(2);
const timeout = 15000;
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "wsplex-chromium-"));
const result = { ok: false, mode };
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1000, height: 640 },
    timeout,
  });
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(timeout);
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  await page.goto(url, { waitUntil: "load" });
  if (mode === "console") await driveConsole(page, result);
  else if (mode === "dashboard") await driveDashboard(page, result);
  else throw new Error("unknown mode " + mode);
  result.requests = requests;
  await page.screenshot({ path: shot, fullPage: true });
  result.ok = true;
} catch (e) {
  result.error = String(e && e.stack || e);
} finally {
  if (context) await context.close().catch(() => {});
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
console.log(JSON.stringify(result));

async function driveConsole(page, result) {
  result.defaultURL = await page.inputValue("#url");
  await page.click("#connect");
  await page.waitForSelector("#log .open");
  await page.fill("#input", "hello from chromium");
  await page.press("#input", "Enter");
  await page.waitForSelector("#log .message:has-text('hello from chromium')");
  await page.fill("#input", "second line");
  await page.press("#input", "Enter");
  await page.waitForSelector("#log .message:has-text('second line')");
  await page.press("#input", "ArrowUp");
  await page.press("#input", "ArrowUp");
  result.history = await page.inputValue("#input");
  await page.click("#disconnect");
  await page.waitForSelector("#log .close");
  result.log = await page.$$eval("#log > div", (ds) => ds.map((d) => ({ kind: d.className, text: d.lastChild.textContent })));
}

async function driveDashboard(page, result) {
  await page.waitForFunction(() => Number(document.getElementById("chart").dataset.points) >= 10);
  result.points = Number(await page.getAttribute("#chart", "data-points"));
  result.cpuLine = await page.getAttribute("#cpu-line", "points");
  result.cpu = await page.textContent("#cpu");
}
