// Security alerts on the desktop, in Chromium: a refresh-token reuse
// detected through the JSON API appears on the Alerts page within 2 s, is
// notified through the service worker (read back with
// `registration.getNotifications()`), counted on the app badge
// (`navigator.setAppBadge`, observed) and in the navigation; a click on
// the notification opens the user's page; acknowledging by keyboard clears
// the badge. With notifications denied nothing breaks. The rules are set
// from the console by keyboard, and another admin's change shows live.
// The manifest makes an installable desktop app, and the app shell works
// offline and reconnects by itself.
import { test, expect, type APIRequestContext, type BrowserContext, type Page } from "@playwright/test";
import { admin } from "../playwright.config";
import { axe, collectErrors, createUser, signIn, uniqueName, waitForHydration } from "./support";

const password = "a long enough password";

/** An API client signed in as the test admin. */
async function adminApi(playwright: typeof import("@playwright/test"), baseURL: string, ip?: string) {
  const api = await playwright.request.newContext({ baseURL, extraHTTPHeaders: ip ? { "X-Forwarded-For": ip } : {} });
  const login = await api.post("/api/v1/auth/login", { data: { username: admin.username, password: admin.password } });
  expect(login.status()).toBe(200);
  const { access_token } = await login.json();
  return { api, headers: { Authorization: `Bearer ${access_token}` } };
}

/** Acknowledges every open alert, so a test starts from none. */
async function acknowledgeAll(api: APIRequestContext, headers: Record<string, string>) {
  const list = await (await api.post("/api/v1/admin/alerts/list", { data: { state: "open", limit: 1000 }, headers })).json();
  for (const alert of list.alerts) {
    const acked = await api.post("/api/v1/admin/alerts/ack", { data: { alert_id: alert.alert_id }, headers });
    expect(acked.status()).toBe(200);
  }
}

/** Records the app badge as the page sets it (`clear` for cleared). */
async function observeBadge(context: BrowserContext) {
  await context.addInitScript(() => {
    const calls: (number | "clear")[] = [];
    (window as unknown as { __badges: typeof calls }).__badges = calls;
    const nav = navigator as Navigator & {
      setAppBadge?: (n?: number) => Promise<void>;
      clearAppBadge?: () => Promise<void>;
    };
    const set = nav.setAppBadge?.bind(nav);
    const clear = nav.clearAppBadge?.bind(nav);
    nav.setAppBadge = (n?: number) => {
      calls.push(n ?? 0);
      return set ? set(n).catch(() => undefined) : Promise.resolve();
    };
    nav.clearAppBadge = () => {
      calls.push("clear");
      return clear ? clear().catch(() => undefined) : Promise.resolve();
    };
  });
}

async function badges(page: Page): Promise<(number | "clear")[]> {
  return page.evaluate(() => (window as unknown as { __badges: (number | "clear")[] }).__badges);
}

async function notifications(page: Page) {
  return page.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready;
    const shown = await registration.getNotifications();
    return shown.map((n) => ({ title: n.title, body: n.body, tag: n.tag, url: n.data?.url as string }));
  });
}

async function openAlerts(page: Page) {
  await page.goto("/console/alerts");
  await waitForHydration(page);
  await expect(page.getByTestId("live")).toHaveAttribute("data-connected", "true", { timeout: 10_000 });
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
}

test("a refresh-token reuse is an alert on the page, a notification and a badge; a click opens the user", async ({
  browser,
  baseURL,
  playwright,
}) => {
  test.setTimeout(90_000);
  const { api, headers } = await adminApi(playwright, baseURL!);
  await acknowledgeAll(api, headers);
  const context = await browser.newContext({ baseURL, permissions: ["notifications"] });
  await observeBadge(context);
  const page = await context.newPage();
  const errors = collectErrors(page);
  await signIn(page, admin.username, admin.password);
  await openAlerts(page);
  await expect(page.getByTestId("notify-permission")).toContainText("may show notifications");
  await page.getByLabel("Notify me of alerts").selectOption("critical");

  // A user's refresh token is used twice, after the grace window.
  const victim = uniqueName("stolen");
  await createUser(baseURL!, victim, password);
  const client = await playwright.request.newContext({ baseURL });
  const login = await (await client.post("/api/v1/auth/login", { data: { username: victim, password } })).json();
  const stolen = login.refresh_token;
  expect((await client.post("/api/v1/auth/refresh", { data: { refresh_token: stolen } })).status()).toBe(200);
  await page.waitForTimeout(11_000);
  expect((await client.post("/api/v1/auth/refresh", { data: { refresh_token: stolen } })).status()).toBe(401);

  const row = page.locator('[data-rule="refresh_reuse"][data-state="open"]', { hasText: victim });
  await expect(row).toBeVisible({ timeout: 2_000 });
  await expect(row).toContainText("Critical");
  await expect(page.getByTestId("open-alerts")).toHaveText(/^1/);
  await expect.poll(async () => (await badges(page)).at(-1)).toBe(1);
  await expect.poll(async () => (await notifications(page)).filter((n) => n.body.includes(victim)).length).toBe(1);
  const [shown] = (await notifications(page)).filter((n) => n.body.includes(victim));
  expect(shown.title).toBe("Gatehouse: Critical alert");
  expect(shown.url).toMatch(/^\/console\/users\/[0-9a-f]+$/);
  // The window title says the instance (its address) and the count.
  await expect(page).toHaveTitle(new RegExp(`^\\(1\\) Alerts · Console · Gatehouse ${new URL(baseURL!).host}$`));

  await axe(page, "alerts, light");
  await context.addCookies([{ name: "gh_theme", value: "dark", domain: new URL(baseURL!).hostname, path: "/" }]);
  await page.reload();
  await waitForHydration(page);
  await expect(row).toBeVisible();
  await axe(page, "alerts, dark");
  await expect(page.getByTestId("live")).toHaveAttribute("data-connected", "true", { timeout: 10_000 });

  // A click on the notification (dispatched in the service worker) opens
  // the user's page in this window.
  const [worker] = context.serviceWorkers();
  expect(worker, "the service worker runs").toBeTruthy();
  await worker.evaluate(async (body) => {
    const scope = self as unknown as ServiceWorkerGlobalScope;
    const [notification] = (await scope.registration.getNotifications()).filter((n) => n.body.includes(body));
    scope.dispatchEvent(new NotificationEvent("notificationclick", { notification }));
  }, victim);
  await expect(page).toHaveURL(new RegExp(`${shown.url}$`));
  await waitForHydration(page);
  await expect(page.getByRole("heading", { name: victim })).toBeVisible();

  // Acknowledged by keyboard: the badge and the count clear.
  await openAlerts(page);
  const acknowledge = row.getByRole("button", { name: /Acknowledge/ });
  await acknowledge.focus();
  await page.keyboard.press("Enter");
  await expect(page.locator('[data-rule="refresh_reuse"][data-state="acknowledged"]', { hasText: victim })).toContainText(
    `Acknowledged by ${admin.username}`,
  );
  await expect(page.getByTestId("open-alerts")).toHaveCount(0);
  await expect.poll(async () => (await badges(page)).at(-1)).toBe("clear");
  // Not notified again, though the console loaded three times since: the
  // clicked notification closed, and none came back.
  expect((await notifications(page)).filter((n) => n.body.includes(victim))).toHaveLength(0);
  expect(errors).toEqual([]);
  await client.dispose();
  await api.dispose();
  await context.close();
});

test("with notifications denied the console still lists alerts, and notifies nothing", async ({ browser, baseURL, playwright }) => {
  const { api, headers } = await adminApi(playwright, baseURL!);
  await acknowledgeAll(api, headers);
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  const errors = collectErrors(page);
  await signIn(page, admin.username, admin.password);
  await openAlerts(page);
  // Headless Chromium answers the prompt with a refusal.
  await page.getByLabel("Notify me of alerts").selectOption("info");
  await expect(page.getByTestId("notify-permission")).toContainText("blocks");
  // The admin signs in from an address not seen for them: an alert.
  const address = `198.51.100.${Math.floor(Math.random() * 250) + 1}`;
  const elsewhere = await adminApi(playwright, baseURL!, address);
  const row = page.locator('[data-rule="admin_new_address"][data-state="open"]', { hasText: address });
  await expect(row).toBeVisible({ timeout: 2_000 });
  await expect(row).toContainText("Warning");
  await expect(page.getByTestId("open-alerts")).toHaveText(/^1/);
  expect(await notifications(page)).toEqual([]);
  expect(errors).toEqual([]);
  await acknowledgeAll(api, headers);
  await elsewhere.api.dispose();
  await api.dispose();
  await context.close();
});

test("the rules are set from the console by keyboard, for every instance", async ({ browser, baseURL, playwright }) => {
  const { api, headers } = await adminApi(playwright, baseURL!);
  const rules = async () => (await (await api.post("/api/v1/admin/alerts/rules", { headers })).json()).rules;
  const rule = async (id: string) => (await rules()).find((r: { rule: string }) => r.rule === id);
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  const errors = collectErrors(page);
  await signIn(page, admin.username, admin.password);
  await openAlerts(page);
  const list = page.getByTestId("alert-rules");
  await expect(list.locator("li")).toHaveCount(7);
  const lockout = list.locator('[data-rule="lockout"]');
  await expect(lockout.getByRole("checkbox", { name: /^On\s+for\s+lockout$/ })).toBeChecked();

  // Off, by keyboard: the box, then its Save.
  await lockout.getByRole("checkbox").focus();
  await page.keyboard.press("Space");
  await page.keyboard.press("Tab");
  await expect(lockout.getByRole("button", { name: /Save/ })).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page.getByRole("status").filter({ hasText: "Saved: lockout is off." })).toBeVisible();
  expect((await rule("lockout")).enabled).toBe(false);

  // A threshold is a whole number from 1: nothing is sent otherwise.
  const storm = list.locator('[data-rule="rate_limit_storm"]');
  const threshold = storm.getByLabel("Refusals per minute");
  await threshold.fill("0");
  await storm.getByRole("button", { name: /Save/ }).click();
  await expect(storm.getByRole("alert")).toContainText("at least 1");
  expect((await rule("rate_limit_storm")).threshold).toBe(100);
  await threshold.fill("250");
  await threshold.press("Enter");
  await expect(page.getByRole("status").filter({ hasText: "Saved: rate_limit_storm is on." })).toBeVisible();
  expect((await rule("rate_limit_storm")).threshold).toBe(250);

  // Another admin's change shows here live; the defaults come back.
  for (const set of [{ rule: "lockout", enabled: true }, { rule: "rate_limit_storm", enabled: true, threshold: 100 }]) {
    expect((await api.post("/api/v1/admin/alerts/rules/set", { data: set, headers })).status()).toBe(200);
  }
  await expect(lockout.getByRole("checkbox")).toBeChecked();
  await expect(threshold).toHaveValue("100");
  const audited = await api.post("/api/v1/admin/events/recent", { data: { kind: "alert_rule_changed", audit: true }, headers });
  expect(JSON.stringify((await audited.json()).events)).toContain('"lockout"');
  expect(errors).toEqual([]);
  await api.dispose();
  await context.close();
});

test("the manifest makes a desktop app: standalone, shortcuts, maskable icons", async ({ request }) => {
  const response = await request.get("/manifest.webmanifest");
  expect(response.status()).toBe(200);
  const manifest = await response.json();
  expect(manifest.display).toBe("standalone");
  expect(manifest.start_url).toBe("/console");
  const shortcuts = manifest.shortcuts.map((s: { url: string }) => s.url).sort();
  expect(shortcuts).toEqual(["/console/alerts", "/console/events", "/console/sessions", "/console/users"]);
  const maskable = manifest.icons.filter((i: { purpose?: string }) => i.purpose?.split(" ").includes("maskable"));
  expect(maskable.length).toBeGreaterThan(0);
  for (const icon of [...manifest.icons, ...manifest.shortcuts.flatMap((s: { icons: unknown[] }) => s.icons)]) {
    const file = await request.get(icon.src);
    expect(file.status(), icon.src).toBe(200);
  }
});

test("offline, the app shell says so and reconnects by itself", async ({ browser, baseURL }) => {
  test.setTimeout(60_000);
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  await signIn(page, admin.username, admin.password);
  await openAlerts(page);
  await page.evaluate(() =>
    navigator.serviceWorker.controller ? true : new Promise((r) => navigator.serviceWorker.addEventListener("controllerchange", () => r(true))),
  );
  await context.setOffline(true);
  await page.goto("/console/alerts").catch(() => undefined);
  await expect(page.getByRole("heading", { name: "Gatehouse is out of reach" })).toBeVisible();
  await context.setOffline(false);
  await expect(page.getByRole("heading", { name: "Alerts" })).toBeVisible({ timeout: 15_000 });
  await waitForHydration(page);
  await context.close();
});
