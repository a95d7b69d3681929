// Drives headless Chromium through the talk's three examples as we wrote
// them (examples/talk), for cmd/wsplex/talk_test.go:
//
//   node talk.mjs ex1 URL SCREENSHOT   echo: the alert shows what came back
//   node talk.mjs ex2 URL SCREENSHOT   FizzBuzz: 101 answers listed
//   node talk.mjs ex3 URL SCREENSHOT   chat: two pages, each sends a line, both see both
//   node talk.mjs console URL SCREENSHOT   the dev console's subprotocol field
//
// It prints one JSON object on stdout ({"ok":true,...} or {"ok":false,"error":...})
// and exits 0 either way unless it crashed. Every wait is bounded.
import { run, timeout } from "./browser.mjs";

const [mode, url, shot] = process.argv.slice(2);
const result = { mode };
await run({ width: 800, height: 560 }, result, async (context, page) => {
  result.consoleErrors = [];
  page.on("console", (m) => { if (m.type() === "error") result.consoleErrors.push(m.text()); });
  if (mode === "ex1") await ex1(page);
  else if (mode === "ex2") await ex2(page);
  else if (mode === "ex3") await ex3(context, page);
  else if (mode === "console") await consoleProtocol(page);
  else throw new Error("unknown mode " + mode);
  await page.screenshot({ path: shot, fullPage: true });
});

async function ex1(page) {
  const alerted = new Promise((resolve) => {
    page.once("dialog", async (d) => { resolve(d.message()); await d.accept(); });
  });
  await page.goto(url, { waitUntil: "load" });
  result.alert = await Promise.race([alerted, page.waitForTimeout(timeout).then(() => "(no alert)")]);
  result.got = await page.textContent("#got");
  result.protocol = await page.textContent("#protocol");
}

async function ex2(page) {
  await page.goto(url, { waitUntil: "load" });
  await page.waitForFunction(() => document.getElementById("count").textContent === "101");
  result.answers = await page.$$eval("#answers li", (els) => els.map((e) => e.textContent));
  result.protocol = await page.textContent("#protocol");
}

async function ex3(context, a) {
  const b = await context.newPage();
  b.setDefaultTimeout(timeout);
  await a.goto(url, { waitUntil: "load" });
  await a.waitForSelector("body[data-ready=yes]");
  await b.goto(url, { waitUntil: "load" });
  await b.waitForSelector("body[data-ready=yes]");
  await a.fill("#input", "hello from A");
  await a.click("#send");
  await b.waitForSelector("#chat .line:has-text('hello from A')");
  await b.fill("#input", "hi from B");
  await b.press("#input", "Enter");
  await a.waitForSelector("#chat .line:has-text('hi from B')");
  await b.close();
  await a.waitForSelector("#chat .line:has-text('disconnected')");
  result.protocol = await a.evaluate(() => document.body.dataset.protocol);
  result.lines = await a.$$eval("#chat .line", (els) => els.map((e) => e.textContent));
}

async function consoleProtocol(page) {
  await page.goto(url, { waitUntil: "load" });
  await page.fill("#protocol", "nope, chat");
  await page.click("#connect");
  await page.waitForSelector("#log .open");
  result.open = await page.textContent("#log .open");
  await page.fill("#input", "ping");
  await page.press("#input", "Enter");
  await page.waitForSelector("#log .message:has-text('ping')");
  result.messages = await page.$$eval("#log .message", (els) => els.map((e) => e.lastChild.textContent));
}
