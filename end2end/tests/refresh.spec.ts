import { test, expect } from "@playwright/test";
import { shortTtlURL } from "../playwright.config";
import { collectErrors, createUser, signIn, uniqueName, waitForHydration } from "./support";

// This instance's access tokens live 5 s; sessions last far longer.
test.use({ baseURL: shortTtlURL });

test("a signed-in person keeps working for 20 s across 5 s token expiry without noticing", async ({ page }) => {
  test.setTimeout(60_000);
  const errors = collectErrors(page);
  const username = uniqueName("steady");
  const password = "a long enough password";
  await createUser(shortTtlURL, username, password);
  await signIn(page, username, password);

  const started = Date.now();
  let round = 0;
  while (Date.now() - started < 20_000) {
    round += 1;
    if (round % 3 === 0) {
      // A full page load now and then: rendered on the server with whatever
      // the cookie holds.
      await page.goto("/account");
      await waitForHydration(page);
    } else {
      await page.getByRole("link", { name: "Status" }).click();
      await expect(page.getByRole("heading", { name: "Instance status" })).toBeVisible();
      await page.getByRole("link", { name: "Account" }).click();
    }
    await expect(page).toHaveURL(/\/account$/);
    await expect(page.getByTestId("username")).toHaveText(username);
    await page.waitForTimeout(1_000);
  }

  // Still one session, and its tokens were rotated along the way.
  const response = await page.request.post("/api/v1/sessions/list");
  expect(response.status()).toBe(200);
  const { sessions } = await response.json();
  expect(sessions).toHaveLength(1);
  expect(sessions[0].generation).toBeGreaterThan(0);
  expect(errors).toEqual([]);
});
