import { test, expect } from "@playwright/test";
import { shortTtlURL } from "../playwright.config";
import { createUser, uniqueName, waitForHydration } from "./support";

// This instance locks sign-in for 10 s after 5 failures per address and username.
test.use({ baseURL: shortTtlURL });

test("five wrong passwords lock sign-in, say when to retry, and refuse even the right password until then", async ({ page }) => {
  test.setTimeout(60_000);
  const username = uniqueName("locked");
  const password = "the right password";
  await createUser(shortTtlURL, username, password);
  await page.goto("/login");
  await waitForHydration(page);
  await page.getByLabel("Username").fill(username);
  const alert = page.getByRole("alert");
  const firstFailure = Date.now();
  for (let i = 0; i < 5; i++) {
    await page.getByLabel("Password").fill(`wrong ${i}`);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect(alert).toHaveText("Wrong username or password.");
    // Let the form settle before the next attempt.
    await expect(page.getByRole("button", { name: "Sign in", exact: true })).toBeEnabled();
  }

  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(alert).toContainText("Too many failed sign-ins");
  await expect(alert).toContainText(/Try again in \d+ s/);
  await expect(page).toHaveURL(/\/login/);

  // Tried again and again (a locked attempt does not extend the lock), the
  // right password works once the oldest failure leaves the 10 s window,
  // and not before.
  await expect(async () => {
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect(page).toHaveURL(/\/account$/, { timeout: 1_000 });
  }).toPass({ timeout: 30_000, intervals: [500] });
  expect(Date.now() - firstFailure).toBeGreaterThanOrEqual(9_000);
  await expect(page.getByTestId("username")).toHaveText(username);
});
