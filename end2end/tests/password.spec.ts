import { test, expect, type Page } from "@playwright/test";
import { admin } from "../playwright.config";
import { collectErrors, createUser, newDevice, signIn, uniqueName, waitForHydration } from "./support";

const password = "a long enough password";

/** Fills and sends the change-password form on /account. */
async function changePassword(page: Page, current: string, next: string, again = next) {
  const form = page.getByTestId("change-password");
  await form.getByLabel("Current password").fill(current);
  await form.getByLabel("New password", { exact: true }).fill(next);
  await form.getByLabel("New password, again").fill(again);
  await form.getByRole("button", { name: "Change password" }).click();
}

test("a person changes their password on /account and their other device is signed out", async ({ page, browser, baseURL }) => {
  const errors = collectErrors(page);
  const username = uniqueName("changer");
  await createUser(baseURL!, username, password);
  await signIn(page, username, password);
  const laptop = await newDevice(browser, baseURL!);
  const other = await laptop.newPage();
  await signIn(other, username, password);

  await waitForHydration(page);
  await changePassword(page, password, "my brand new passphrase", "a typo in the repeat");
  await expect(page.getByRole("alert")).toHaveText("The new passwords do not match.");
  await changePassword(page, "not my password", "my brand new passphrase");
  await expect(page.getByRole("alert")).toHaveText("Wrong username or password.");
  await changePassword(page, password, "qwerty123456");
  await expect(page.getByRole("alert")).toContainText("most common passwords");
  await changePassword(page, password, "my brand new passphrase");
  await expect(page.getByRole("status").filter({ hasText: "Password changed" })).toHaveText(
    "Password changed. Your one other session was signed out.",
  );
  // This device stays signed in; the other one is out.
  await page.reload();
  await expect(page.getByTestId("username")).toHaveText(username);
  await other.goto("/account");
  await expect(other).toHaveURL(/\/login/);
  await signIn(other, username, "my brand new passphrase");
  await laptop.close();
  // The refused attempts above are logged by the browser as failed loads;
  // nothing else may go wrong.
  expect(errors.filter((e) => !e.startsWith("Failed to load resource"))).toEqual([]);
});

test("an admin sets a password from the users page; the user must choose their own before anything else", async ({ page, browser, baseURL }) => {
  const username = uniqueName("reset");
  await createUser(baseURL!, username, password);
  const laptop = await newDevice(browser, baseURL!);
  const user = await laptop.newPage();
  await signIn(user, username, password);

  await signIn(page, admin.username, admin.password);
  await page.goto("/console/users");
  await waitForHydration(page);
  const row = page.locator(`tr[data-username='${username}']`);
  await row.locator("summary", { hasText: "Set password" }).click();
  await row.getByLabel(`New password for ${username}`).fill("set by the admin today");
  await row.getByRole("button", { name: "Set password and end sessions" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Password set" })).toHaveText("Password set; 1 sessions ended.");
  await expect(row.getByRole("cell", { name: "must change password" })).toBeVisible();

  // The user's session ended; the new password signs in, to the form only.
  await user.goto("/account");
  await expect(user).toHaveURL(/\/login/);
  await waitForHydration(user);
  await user.getByLabel("Username").fill(username);
  await user.getByLabel("Password").fill("set by the admin today");
  await user.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(user).toHaveURL(/\/account$/);
  await expect(user.getByRole("heading", { name: "Choose a new password" })).toBeVisible();
  expect((await user.request.post("/api/v1/sessions/list", { data: {} })).status()).toBe(403);
  await user.goto("/console");
  await expect(user).toHaveURL(/\/account$/);

  await waitForHydration(user);
  await changePassword(user, "set by the admin today", "chosen by me, finally");
  await expect(user.getByTestId("username")).toHaveText(username);
  expect((await user.request.post("/api/v1/sessions/list", { data: {} })).status()).toBe(200);
  await laptop.close();
});
