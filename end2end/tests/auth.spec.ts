import { test, expect } from "@playwright/test";
import { collectErrors, createUser, expectNoHorizontalScroll, keepScreenshot, newDevice, signIn, uniqueName, waitForHydration } from "./support";

const password = "a long enough password";

test("a wrong password shows one clear error, the same as an unknown user", async ({ page, baseURL }) => {
  const username = uniqueName("wrongpw");
  await createUser(baseURL!, username, password);
  await page.goto("/login");
  await waitForHydration(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.getByRole("alert")).toHaveText("Wrong username or password.");

  await page.getByLabel("Username").fill(uniqueName("nobody"));
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.getByRole("alert")).toHaveText("Wrong username or password.");
  await expect(page).toHaveURL(/\/login/);
});

test("signing in shows this device's session on /account and brings you where you were going", async ({ page, baseURL }, testInfo) => {
  const errors = collectErrors(page);
  const username = uniqueName("alice");
  await createUser(baseURL!, username, password);
  await page.goto("/account");
  await expect(page).toHaveURL(/\/login\?next=%2Faccount|\/login\?next=\/account/);
  await waitForHydration(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByTestId("username")).toHaveText(username);
  const sessions = page.getByTestId("sessions").locator("li");
  await expect(sessions).toHaveCount(1);
  await expect(sessions.first()).toContainText("This device");
  await expect(sessions.first()).toContainText("Headless Chrome on Linux");
  await expect(page.getByRole("link", { name: "Account" })).toBeVisible();

  await page.setViewportSize({ width: 390, height: 844 });
  await expectNoHorizontalScroll(page);
  await keepScreenshot(page, testInfo, "account-390");
  expect(errors).toEqual([]);
});

test("the login form works without JavaScript", async ({ browser, baseURL }) => {
  const username = uniqueName("nojs");
  await createUser(baseURL!, username, password);
  const context = await browser.newContext({ baseURL, javaScriptEnabled: false });
  const page = await context.newPage();

  await page.goto("/login");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill("wrong password");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.getByRole("alert")).toHaveText("Wrong username or password.");

  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByTestId("username")).toHaveText(username);
  await context.close();
});

test("a session revoked from another device is bounced to /login on its next navigation", async ({ page, browser, baseURL }) => {
  const username = uniqueName("bob");
  await createUser(baseURL!, username, password);
  await signIn(page, username, password);

  const laptop = await newDevice(browser, baseURL!);
  const other = await laptop.newPage();
  await signIn(other, username, password);

  await page.reload();
  await waitForHydration(page);
  const rows = page.getByTestId("sessions").locator("li");
  await expect(rows).toHaveCount(2);
  const otherRow = rows.filter({ hasNotText: "This device" });
  await otherRow.getByRole("button", { name: /Revoke/ }).click();
  await expect(rows).toHaveCount(1);

  await other.getByRole("link", { name: "Status" }).click();
  await other.goto("/account");
  await expect(other).toHaveURL(/\/login/);
  await laptop.close();
});

test("sign out everywhere ends every session", async ({ page, browser, baseURL }) => {
  const username = uniqueName("carol");
  await createUser(baseURL!, username, password);
  await signIn(page, username, password);
  const phone = await newDevice(browser, baseURL!);
  const other = await phone.newPage();
  await signIn(other, username, password);

  await page.reload();
  await waitForHydration(page);
  await page.getByRole("button", { name: "Sign out everywhere" }).click();
  await expect(page).toHaveURL(/\/login/);
  await expect(page.getByRole("link", { name: "Sign in", exact: true })).toBeVisible();

  await other.goto("/account");
  await expect(other).toHaveURL(/\/login/);
  await phone.close();
});

test("the Sign out button ends this session", async ({ page, baseURL }) => {
  const username = uniqueName("dave");
  await createUser(baseURL!, username, password);
  await signIn(page, username, password);
  await page.getByRole("button", { name: "Sign out" }).first().click();
  await expect(page).toHaveURL(/\/login/);
  await page.goto("/account");
  await expect(page).toHaveURL(/\/login/);
});
