import { test, expect } from "@playwright/test";
import { collectErrors, expectNoHorizontalScroll, keepScreenshot, waitForHydration } from "./support";

test("the home page is rendered on the server, before any script runs", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Instance status" })).toBeVisible();
  await expect(page.getByTestId("redis-state")).toHaveText("reachable");
  await context.close();
});

test("the page hydrates and re-checks the status through a server function", async ({ page }) => {
  const errors = collectErrors(page);
  await page.goto("/");
  await waitForHydration(page);
  const status = page.getByTestId("status");
  const before = await status.getAttribute("data-checked-at");
  await page.getByRole("button", { name: "Check again" }).click();
  await expect(status).not.toHaveAttribute("data-checked-at", before!);
  await expect(page.getByTestId("redis-state")).toHaveText("reachable");
  expect(errors).toEqual([]);
});

test("the page fits a 390 px phone screen", async ({ page }, testInfo) => {
  await page.setViewportSize({ width: 390, height: 844 });
  const errors = collectErrors(page);
  await page.goto("/");
  await waitForHydration(page);
  await expectNoHorizontalScroll(page);
  await keepScreenshot(page, testInfo, "home-390");
  expect(errors).toEqual([]);
});

test("an unknown page says so with a 404", async ({ page }) => {
  const response = await page.goto("/no-such-page");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "This page does not exist" })).toBeVisible();
});

test("the app is installable: a manifest, icons and a service worker that never caches the API", async ({ page }) => {
  await page.goto("/");
  await waitForHydration(page);
  const manifest = await page.locator("link[rel=manifest]").getAttribute("href");
  const response = await page.request.get(manifest!);
  expect(response.status()).toBe(200);
  const parsed = await response.json();
  expect(parsed.display).toBe("standalone");
  expect(parsed.icons.some((i: { sizes: string }) => i.sizes === "512x512")).toBe(true);

  await page.evaluate(() => navigator.serviceWorker.ready);
  // The worker takes control of this very page (clients.claim), not only of later loads.
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
  await page.getByRole("button", { name: "Check again" }).click();
  const cachedPaths = () =>
    page.evaluate(async () => {
      const keys: string[] = [];
      for (const name of await caches.keys()) {
        for (const request of await (await caches.open(name)).keys()) keys.push(new URL(request.url).pathname);
      }
      return keys;
    });
  // Wait for the state (the shell cached), not for a fixed time.
  await expect.poll(cachedPaths).toContain("/pkg/gatehouse.wasm");
  const cached = await cachedPaths();
  expect(cached.some((path) => path.startsWith("/api/"))).toBe(false);
});
