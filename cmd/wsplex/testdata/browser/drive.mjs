// Drives headless Chromium (Debian's /usr/bin/chromium) with playwright-core
// for the wsplex browser tests (cmd/wsplex/console_test.go):
//
//   node drive.mjs console   URL SCREENSHOT   load the dev console at URL, connect,
//                                             send a line, expect it echoed, close
//   node drive.mjs dashboard URL SCREENSHOT   load the dashboard, wait for points
//
// It prints one JSON object on stdout ({"ok":true,...} or {"ok":false,"error":...})
// and exits 0 either way unless it crashed. Every wait is bounded.
import { run } from "./browser.mjs";

const [mode, url, shot] = process.argv.slice(2);
await run({ width: 1000, height: 640 }, { mode }, async (_context, page, result) => {
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  await page.goto(url, { waitUntil: "load" });
  if (mode === "console") await driveConsole(page, result);
  else if (mode === "dashboard") await driveDashboard(page, result);
  else throw new Error("unknown mode " + mode);
  result.requests = requests;
  await page.screenshot({ path: shot, fullPage: true });
});

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
