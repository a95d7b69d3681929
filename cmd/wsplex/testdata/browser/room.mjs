// Drives headless Chromium through the talk's chat as a room
// (examples/rooms/chat.py behind --broadcast --envelope=json, the page of
// examples/talk/ex3), for cmd/wsplex/room_browser_test.go:
//
//   node room.mjs URL SCREENSHOT
//
// Three pages join in turn (client1, client2, client3); each sends a line;
// every page must see the other two lines with their senders' names. It
// prints one JSON object on stdout, as the other scripts do.
import { run, timeout } from "./browser.mjs";

const [url, shot] = process.argv.slice(2);
const result = {};
await run({ width: 800, height: 560 }, result, async (context, a) => {
  result.consoleErrors = [];
  const pages = [a, await context.newPage(), await context.newPage()];
  for (const p of pages) {
    p.setDefaultTimeout(timeout);
    p.on("console", (m) => { if (m.type() === "error") result.consoleErrors.push(m.text()); });
  }
  for (const [i, p] of pages.entries()) {
    await p.goto(url, { waitUntil: "load" });
    await p.waitForSelector("body[data-ready=yes]");
    // The room greets each newcomer alone, by name: the order is known.
    await p.waitForSelector(`#chat .line:has-text('welcome, client${i + 1}')`);
  }
  const words = ["apples", "bananas", "cherries"];
  for (const [i, p] of pages.entries()) {
    await p.fill("#input", `I like ${words[i]}`);
    await p.press("#input", "Enter");
  }
  for (const [i, p] of pages.entries()) {
    for (const [j] of pages.entries()) {
      await p.waitForSelector(`#chat .line:has-text('client${j + 1}: I like ${words[j]}')`);
    }
  }
  await pages[2].close();
  await a.waitForSelector("#chat .line:has-text('client3 disconnected')");
  result.lines = await Promise.all(pages.slice(0, 2).map((p) => p.$$eval("#chat .line", (els) => els.map((e) => e.textContent))));
  await a.screenshot({ path: shot, fullPage: true });
});
