// Drives headless Chromium through the --pty --devconsole terminal page
// (engine/web/term.html) for cmd/wsplex/pty_browser_test.go:
//
//   node term.mjs URL SCREENSHOT
//
// Loads the page (it connects by itself), types `echo hi` + Enter and waits
// for a row that is exactly "hi", resizes the window and checks with
// `stty size` that the program saw the new size, then types `exit 7` and
// waits for the close status. The screenshot is taken at the end. Prints one
// JSON object ({"ok":true,...} or {"ok":false,"error":...}); every wait is
// bounded.
import { run } from "./browser.mjs";

const [url, shot] = process.argv.slice(2);
let page;
const rows = () => page.$$eval(".xterm-rows > div", (ds) => ds.map((d) => d.textContent.replace(/\s+$/, "")));
async function waitRow(text) {
  await page.waitForFunction((t) => [...document.querySelectorAll(".xterm-rows > div")].some((d) => d.textContent.trim() === t), text);
}
await run({ width: 900, height: 500 }, {}, async (_context, p, result) => {
  page = p;
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  await page.goto(url, { waitUntil: "load" });
  result.xterm = await page.evaluate(() => typeof Terminal !== "undefined");
  await page.waitForSelector("#status[data-state=open]");
  await page.click(".xterm");
  await page.keyboard.type("echo hi");
  await page.keyboard.press("Enter");
  await waitRow("hi");

  await page.setViewportSize({ width: 640, height: 360 });
  await page.waitForFunction(() => window.term.cols < 80);
  result.size = await page.evaluate(() => `${window.term.rows} ${window.term.cols}`);
  await page.keyboard.type("stty size");
  await page.keyboard.press("Enter");
  await waitRow(result.size);

  await page.keyboard.type("exit 7");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#status[data-state=closed]");
  result.status = await page.textContent("#status");
  result.rows = (await rows()).filter((r) => r !== "");
  result.requests = requests;
  await page.screenshot({ path: shot });
}, async (p, result) => {
  result.rows = await rows().catch(() => []);
  await p.screenshot({ path: shot }).catch(() => {});
});
