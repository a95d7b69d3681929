// Drives headless Chromium through examples/chat (the talk's chat on
// --backend), for cmd/wsplex/chat_browser_test.go:
//
//   node chat.mjs URL SCREENSHOT
//
// Two pages open URL; each sends a line and sees the other's; then the
// second leaves and the first sees it go. It prints one JSON object on
// stdout ({"ok":true,"a":[...],"b":[...]} with each page's chat lines, or
// {"ok":false,"error":...}). Every wait is bounded.
import { run, timeout } from "./browser.mjs";

const [url, shot] = process.argv.slice(2);
const result = { consoleErrors: [] };
const lines = (page) => page.$$eval("#chat .line", (els) => els.map((e) => e.textContent));
await run({ width: 720, height: 520 }, result, async (context, a) => {
  a.on("console", (m) => { if (m.type() === "error") result.consoleErrors.push(m.text()); });
  await a.goto(url, { waitUntil: "load" });
  await a.waitForSelector("body[data-ready=yes]");
  const b = await context.newPage();
  b.setDefaultTimeout(timeout);
  b.on("console", (m) => { if (m.type() === "error") result.consoleErrors.push(m.text()); });
  await b.goto(url, { waitUntil: "load" });
  await b.waitForSelector("body[data-ready=yes]");
  await a.waitForSelector("#chat .line:has-text('client2 connected')");

  await a.fill("#input", "hello from A");
  await a.press("#input", "Enter");
  await b.waitForSelector("#chat .line:has-text('client1: hello from A')");
  await b.fill("#input", "hi from B");
  await b.click("#send");
  await a.waitForSelector("#chat .line:has-text('client2: hi from B')");
  result.b = await lines(b);

  await b.close();
  await a.waitForSelector("#chat .line:has-text('client2 disconnected')");
  result.a = await lines(a);
  await a.screenshot({ path: shot, fullPage: true });
});
