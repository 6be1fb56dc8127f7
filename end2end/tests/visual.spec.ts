// Visual regression: every console page and the user page at 1280 px and
// 390 px, compared with the committed baselines (a layout change must be a
// reviewed baseline update: `make update-screenshots`). The data are made
// deterministic by a Gatehouse of its own seeded with fixed users and
// sessions; whatever still varies run to run (times, ids, request-time
// charts, which subjects have live windows) is masked.
import { test, expect, request as playwrightRequest, type Page } from "@playwright/test";
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { admin } from "../playwright.config";
import { freePort, signIn, startGatehouse, waitForHydration, waitReady } from "./support";

const password = "a long enough password";
let server: ChildProcess;
let url: string;
let aliceId: string;

// Each test seeds a Gatehouse of its own, so that what one test did (or a
// failed test's retry) never shows in another's screenshots.
test.beforeEach(async () => {
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-e2e-visual-"));
  server = startGatehouse(port, dataDir, ["--instance-id", "visual"]);
  await waitReady(url);
  const api = await playwrightRequest.newContext({ baseURL: url, userAgent: "visual-test" });
  const login = async (username: string, pw: string) => {
    const response = await api.post("/api/v1/auth/login", { data: { username, password: pw } });
    expect(response.status()).toBe(200);
    return (await response.json()).access_token as string;
  };
  const headers = { Authorization: `Bearer ${await login(admin.username, admin.password)}` };
  const ids: Record<string, string> = {};
  for (const [username, roles] of [["alice", ["user"]], ["bob", ["user", "service"]], ["carol", ["user"]]] as const) {
    const created = await api.post("/api/v1/admin/users/create", { data: { username, password, roles }, headers });
    expect(created.status()).toBe(200);
    ids[username] = (await created.json()).user_id;
  }
  aliceId = ids.alice;
  await login("alice", password);
  await login("alice", password);
  const bob = await login("bob", password);
  expect((await api.post("/api/v1/auth/logout", { headers: { Authorization: `Bearer ${bob}` } })).status()).toBe(200);
  const disabled = await api.post("/api/v1/admin/users/set-disabled", { data: { user_id: ids.carol, disabled: true }, headers });
  expect(disabled.status()).toBe(200);
  await api.dispose();
});

test.afterEach(() => {
  server?.kill("SIGTERM");
});

/** What differs from run to run. */
function masks(page: Page) {
  return [
    page.locator("time"),
    page.locator("code"),
    page.locator("svg[role=img]"),
    page.getByTestId("window-subjects"),
    page.getByTestId("announcer"),
    // Event details carry token ids.
    page.locator("li[data-kind] span.break-all"),
  ];
}

const pages: [string, () => string][] = [
  ["overview", () => "/console"],
  ["sessions", () => "/console/sessions"],
  ["users", () => "/console/users"],
  ["locks", () => "/console/locks"],
  ["blacklist", () => "/console/blacklist"],
  ["windows", () => "/console/windows"],
  ["events", () => "/console/events"],
  ["alerts", () => "/console/alerts"],
  ["user", () => `/console/users/${aliceId}`],
];

for (const width of [1280, 390]) {
  test(`console pages look as reviewed at ${width} px`, async ({ browser }) => {
    test.setTimeout(120_000);
    // bypassCSP: the screenshot style sheet (visual.css) is injected inline.
    const context = await browser.newContext({
      baseURL: url,
      viewport: { width, height: 900 },
      userAgent: "visual-test",
      bypassCSP: true,
    });
    const page = await context.newPage();
    await signIn(page, admin.username, admin.password);
    for (const [name, target] of pages) {
      await page.goto(target());
      await waitForHydration(page);
      await expect(page.getByTestId("live")).toHaveAttribute("data-connected", "true", { timeout: 10_000 });
      await expect(page.getByText("Loading…")).toHaveCount(0);
      await expect(page).toHaveScreenshot(`${name}-${width}.png`, {
        fullPage: true,
        mask: masks(page),
        stylePath: path.join(__dirname, "visual.css"),
        // Proportional digits in masked ids still move a few pixels.
        maxDiffPixels: 400,
      });
    }
    await context.close();
  });
}
