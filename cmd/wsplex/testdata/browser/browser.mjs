// What every browser script here shares: Debian's Chromium launched headless
// through playwright-core in a throwaway profile, and the one JSON answer on
// stdout that cmd/wsplex/browser_test.go reads.
import { chromium } from "playwright-core";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

// timeout bounds every wait of a script, in milliseconds.
export const timeout = 15000;

// run launches Chromium with a viewport, calls body(context, page, result),
// then closes the browser, removes the profile and prints result as JSON
// ({"ok":true,...} or {"ok":false,"error":...}); onError(page, result) may add
// to a failed result while the page is still open.
export async function run(viewport, result, body, onError) {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "wsplex-chromium-"));
  let context, page;
  result.ok = false;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      viewport,
      timeout,
    });
    page = context.pages()[0] || await context.newPage();
    page.setDefaultTimeout(timeout);
    await body(context, page, result);
    result.ok = true;
  } catch (e) {
    result.error = String(e && e.stack || e);
    if (page && onError) await onError(page, result).catch(() => {});
  } finally {
    if (context) await context.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
  console.log(JSON.stringify(result));
}
