import { test, expect, type Page } from "@playwright/test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { admin } from "../playwright.config";
import {
  collectErrors,
  createUser,
  freePort,
  startGatehouse,
  waitReady,
  expectNoHorizontalScroll,
  keepScreenshot,
  newDevice,
  signIn,
  uniqueName,
  waitForHydration,
} from "./support";

const password = "a long enough password";

/** Opens a console page as the admin, hydrated and connected to the live feed. */
async function openConsole(page: Page, path: string) {
  await page.goto(path);
  await waitForHydration(page);
  await expect(page.getByTestId("live")).toHaveAttribute("data-connected", "true", { timeout: 10_000 });
}

test("the admin sees a new session appear live, revokes it, and the user is signed out", async ({ page, browser, baseURL }) => {
  const errors = collectErrors(page);
  await signIn(page, admin.username, admin.password);
  await openConsole(page, "/console/sessions");

  const username = uniqueName("watched");
  await createUser(baseURL!, username, password);
  const laptop = await newDevice(browser, baseURL!);
  const user = await laptop.newPage();
  await signIn(user, username, password);

  const row = page.getByTestId("sessions-table").locator("tr", { hasText: username });
  await expect(row).toBeVisible({ timeout: 2_000 });
  await row.getByRole("button", { name: `Revoke session of ${username}` }).click();
  await expect(row).toHaveCount(0);

  // The user's next action finds them signed out.
  await user.getByRole("link", { name: "Status" }).click();
  await expect(user.getByRole("link", { name: "Sign in", exact: true })).toBeVisible();
  await user.goto("/account");
  await expect(user).toHaveURL(/\/login/);
  await laptop.close();
  expect(errors).toEqual([]);
});

test("a demo lock shows up with a countdown and leaves when released", async ({ page }) => {
  await signIn(page, admin.username, admin.password);
  await openConsole(page, "/console/locks");
  await page.getByRole("button", { name: "Take a demo lock" }).click();
  const row = page.locator("tr[data-lock^='demo/']").first();
  await expect(row).toBeVisible();
  await expect(row).toContainText("demo by e2e-admin");
  await expect(row.getByTestId("lock-ttl")).toHaveText(/in \d+ s/);
  const before = await row.getByTestId("lock-ttl").textContent();
  await expect(row.getByTestId("lock-ttl")).not.toHaveText(before!, { timeout: 5_000 });

  await row.getByRole("button", { name: "Force release" }).click();
  await row.getByRole("button", { name: "Yes, release" }).click();
  await expect(page.locator("tr[data-lock^='demo/']")).toHaveCount(0);
});

test("signing out puts the session's token on the blacklist view", async ({ page, browser, baseURL }) => {
  await signIn(page, admin.username, admin.password);
  await openConsole(page, "/console/blacklist");

  const username = uniqueName("leaver");
  await createUser(baseURL!, username, password);
  const phone = await newDevice(browser, baseURL!);
  const user = await phone.newPage();
  await signIn(user, username, password);
  const sessionId = await user.getByTestId("sessions").locator("li").first().getAttribute("data-session-id");
  await user.getByRole("button", { name: "Sign out" }).first().click();
  await expect(user).toHaveURL(/\/login/);

  const entry = page.getByTestId("blacklist-table").locator("tr", { has: page.locator(`code[title='${sessionId}']`) });
  await expect(entry).toContainText("logout", { timeout: 5_000 });
  await phone.close();
});

test("hammering the API fills the user's request window and shows 429s in the event feed", async ({ page, browser, baseURL }) => {
  const username = uniqueName("hammer");
  await createUser(baseURL!, username, password);
  const desk = await newDevice(browser, baseURL!);
  const user = await desk.newPage();
  await signIn(user, username, password);
  let rejected = 0;
  for (let i = 0; i < 130; i++) {
    const response = await user.request.post("/api/v1/auth/me");
    if (response.status() === 429) rejected += 1;
  }
  expect(rejected).toBeGreaterThan(0);

  await signIn(page, admin.username, admin.password);
  await openConsole(page, "/console/windows");
  await page.getByTestId("window-subjects").getByRole("button", { name: new RegExp(`user\\s*${username}$`) }).click();
  // The sliding log counts every admitted request for a whole minute.
  const usage = page.locator("section[data-policy='api-user']").getByTestId("window-usage");
  await expect(usage).toHaveText(/^\d+ \/ 600$/);
  const used = Number((await usage.textContent())!.split(" / ")[0]);
  expect(used).toBeGreaterThanOrEqual(90);

  await page.getByRole("link", { name: "Events" }).click();
  await page.getByLabel("Type").selectOption("rate_limited");
  await page.getByPlaceholder("User").fill(username);
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page.getByTestId("events").locator("li[data-kind='rate_limited']").first()).toBeVisible();
  await desk.close();
});

test("people without the admin role get 403 from every console page and admin function", async ({ page, baseURL }) => {
  const username = uniqueName("curious");
  await createUser(baseURL!, username, password);
  await signIn(page, username, password);
  await expect(page.getByRole("link", { name: "Console" })).toHaveCount(0);
  for (const path of ["/console", "/console/sessions", "/console/users", "/console/locks", "/console/blacklist", "/console/windows", "/console/events"]) {
    const response = await page.goto(path);
    expect(response?.status(), path).toBe(403);
    await expect(page.getByTestId("forbidden")).toBeVisible();
  }
  for (const endpoint of [
    "admin/overview",
    "admin/sessions/list",
    "admin/users/list",
    "admin/locks/list",
    "admin/locks/demo",
    "admin/blacklist/list",
    "admin/ratelimit/active",
    "admin/events/recent",
  ]) {
    const response = await page.request.post(`/api/v1/${endpoint}`, { data: {} });
    expect(response.status(), endpoint).toBe(403);
  }
  const stream = await page.request.get("/api/v1/admin/events/stream");
  expect(stream.status()).toBe(403);
});

test("every console page fits a 390 px screen (screenshots kept)", async ({ page }, testInfo) => {
  const errors = collectErrors(page);
  await signIn(page, admin.username, admin.password);
  await page.setViewportSize({ width: 390, height: 844 });
  for (const [name, path] of [
    ["overview", "/console"],
    ["sessions", "/console/sessions"],
    ["users", "/console/users"],
    ["locks", "/console/locks"],
    ["blacklist", "/console/blacklist"],
    ["windows", "/console/windows"],
    ["events", "/console/events"],
  ]) {
    await openConsole(page, path);
    await expectNoHorizontalScroll(page);
    await keepScreenshot(page, testInfo, `console-${name}-390`);
  }
  await page.setViewportSize({ width: 1280, height: 900 });
  await openConsole(page, "/console");
  await keepScreenshot(page, testInfo, "console-overview-1280");
  expect(errors).toEqual([]);
});

test("the live indicator goes grey when the server goes away and recovers on its own", async ({ browser }) => {
  test.setTimeout(90_000);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-e2e-restart-"));
  let server = startGatehouse(port, dataDir);
  try {
    await waitReady(url);
    const context = await browser.newContext({ baseURL: url });
    const page = await context.newPage();
    await signIn(page, admin.username, admin.password);
    await openConsole(page, "/console");

    const stopped = new Promise((r) => server.once("exit", r));
    server.kill("SIGTERM");
    await stopped;
    await expect(page.getByTestId("live")).toHaveAttribute("data-connected", "false", { timeout: 10_000 });

    server = startGatehouse(port, dataDir);
    await waitReady(url);
    await expect(page.getByTestId("live")).toHaveAttribute("data-connected", "true", { timeout: 20_000 });
    await context.close();
  } finally {
    server.kill("SIGTERM");
  }
});

test("the events page shows a sign-in as it happens", async ({ page, browser, baseURL }) => {
  await signIn(page, admin.username, admin.password);
  await openConsole(page, "/console/events");
  const username = uniqueName("eventful");
  await createUser(baseURL!, username, password);
  const phone = await newDevice(browser, baseURL!);
  await signIn(await phone.newPage(), username, password);
  // No reload: the row arrives over the live stream.
  await expect(
    page.getByTestId("events").locator("li[data-kind='login_succeeded']").filter({ hasText: username }),
  ).toBeVisible({ timeout: 10_000 });
  await phone.close();
});

test("an admin grants a role and disables an account from the users page; the user feels each at once", async ({ page, browser, baseURL }) => {
  const username = uniqueName("managed");
  await createUser(baseURL!, username, password);
  const laptop = await newDevice(browser, baseURL!);
  const user = await laptop.newPage();
  await signIn(user, username, password);
  expect((await user.request.post("/api/v1/admin/users/list", { data: {} })).status()).toBe(403);

  await signIn(page, admin.username, admin.password);
  await openConsole(page, "/console/users");
  const row = page.locator(`tr[data-username='${username}']`);
  await row.getByRole("button", { name: "admin" }).click();
  await expect(row.getByRole("button", { name: "admin" })).toHaveAttribute("aria-pressed", "true");
  // The same session, the same token: the new role applies to its next request.
  expect((await user.request.post("/api/v1/admin/users/list", { data: {} })).status()).toBe(200);

  await row.getByRole("button", { name: "Disable" }).click();
  await expect(row.getByRole("cell", { name: "disabled" })).toBeVisible();
  await user.goto("/account");
  await expect(user).toHaveURL(/\/login/);

  await row.getByRole("button", { name: "Enable" }).click();
  await expect(row.getByRole("cell", { name: "active" })).toBeVisible();
  await signIn(user, username, password);
  await laptop.close();
});

test("the live console stops and offers to sign in again when its session ends", async ({ page, browser, baseURL }) => {
  const username = uniqueName("watcher");
  await createUser(baseURL!, username, password, ["admin", "user"]);
  const laptop = await newDevice(browser, baseURL!);
  const watched = await laptop.newPage();
  await signIn(watched, username, password);
  await openConsole(watched, "/console");

  // Another admin revokes that session from their own console.
  await signIn(page, admin.username, admin.password);
  await openConsole(page, "/console/sessions");
  const row = page.locator("tr", { hasText: username });
  await row.getByRole("button", { name: /Revoke/ }).first().click();

  const notice = watched.getByRole("alert").filter({ hasText: "Your session has ended" });
  await expect(notice).toBeVisible({ timeout: 8_000 });
  await expect(watched.getByTestId("live")).toHaveAttribute("data-connected", "false");
  await notice.getByRole("link", { name: "Sign in again" }).click();
  await expect(watched).toHaveURL(/\/login\?next=\/console/);
  await laptop.close();
});
