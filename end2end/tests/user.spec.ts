import { test, expect } from "@playwright/test";
import { admin } from "../playwright.config";
import { collectErrors, createUser, expectNoHorizontalScroll, keepScreenshot, newDevice, signIn, uniqueName, waitForHydration } from "./support";

const password = "a long enough password";

test("the user page gathers one user's sessions, windows and events, live, with the admin actions", async ({ page, browser, baseURL }, testInfo) => {
  const errors = collectErrors(page);
  const username = uniqueName("looked-at");
  await createUser(baseURL!, username, password);
  const laptop = await newDevice(browser, baseURL!);
  await signIn(await laptop.newPage(), username, password);

  await signIn(page, admin.username, admin.password);
  await page.goto("/console/users");
  await waitForHydration(page);
  // Reached from the users list (and from sessions, events, windows and the blacklist).
  await page.getByRole("link", { name: username, exact: true }).click();
  await expect(page).toHaveURL(/\/console\/users\/[0-9a-f]+$/);
  await expect(page.getByTestId("user-name")).toHaveText(username);
  await expect(page.getByTestId("live")).toHaveAttribute("data-connected", "true", { timeout: 10_000 });
  await expect(page.getByTestId("user-status")).toHaveText("Active");
  await expect(page.getByRole("heading", { name: "Sessions (1)" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Request windows" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Sign-in failures and challenge" })).toBeVisible();
  await expect(page.getByTestId("user-events").locator('li[data-kind="login_succeeded"]').first()).toBeVisible();

  // A second device appears without a reload.
  const phone = await newDevice(browser, baseURL!);
  await signIn(await phone.newPage(), username, password);
  await expect(page.getByRole("heading", { name: "Sessions (2)" })).toBeVisible({ timeout: 3_000 });

  await page.setViewportSize({ width: 1280, height: 900 });
  await keepScreenshot(page, testInfo, "console-user-1280");
  await page.setViewportSize({ width: 390, height: 844 });
  await expectNoHorizontalScroll(page);
  await page.setViewportSize({ width: 1280, height: 900 });

  // Revoke one, then all; their tokens show up as revoked.
  await page.getByRole("button", { name: `Revoke session of ${username}` }).first().click();
  await expect(page.getByRole("heading", { name: "Sessions (1)" })).toBeVisible();
  await page.getByRole("button", { name: "Revoke all sessions" }).click();
  await expect(page.getByRole("heading", { name: "Sessions (0)" })).toBeVisible();
  await expect(page.getByText("No live session: the user is signed out everywhere.")).toBeVisible();
  await expect(page.getByTestId("blacklist-table").locator("tr[data-jti]")).toHaveCount(2);

  // Disable and enable.
  await page.getByRole("button", { name: "Disable" }).click();
  await expect(page.getByTestId("user-status")).toHaveText("Disabled: cannot sign in");
  await page.getByRole("button", { name: "Enable" }).click();
  await expect(page.getByTestId("user-status")).toHaveText("Active");
  expect(errors).toEqual([]);
  await laptop.close();
  await phone.close();
});

test("an unknown user id says so", async ({ page }) => {
  await signIn(page, admin.username, admin.password);
  await page.goto("/console/users/0123456789abcdef0123456789abcdef");
  await expect(page.getByRole("alert")).toContainText("No user has this id.");
});
