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

test("two tabs renewing an expired token at the same moment both stay signed in", async ({ context }) => {
  test.setTimeout(60_000);
  const username = uniqueName("twotabs");
  const password = "a long enough password";
  await createUser(shortTtlURL, username, password);
  const first = await context.newPage();
  await signIn(first, username, password);
  const second = await context.newPage();
  await second.goto("/account");
  await waitForHydration(second);
  // Past the 5 s access token: both tabs renew on their next request, together.
  await first.waitForTimeout(6_000);
  await Promise.all([first.goto("/account"), second.goto("/account")]);
  for (const tab of [first, second]) {
    await expect(tab).toHaveURL(/\/account$/);
    await expect(tab.getByTestId("username")).toHaveText(username);
  }
  const { sessions } = await (await first.request.post("/api/v1/sessions/list")).json();
  expect(sessions).toHaveLength(1);
  expect(sessions[0].generation).toBe(1);
});

test("a stolen refresh token used after its rotation ends the session in the browser", async ({ page, playwright }) => {
  test.setTimeout(60_000);
  const username = uniqueName("stolen");
  const password = "a long enough password";
  await createUser(shortTtlURL, username, password);
  await signIn(page, username, password);
  const stolen = (await page.context().cookies()).find((c) => c.name === "gh_refresh")!.value;
  // The browser rotates (its refresh cookie goes to the refresh endpoint).
  expect((await page.request.post("/api/v1/auth/refresh", { data: {} })).status()).toBe(200);
  // After the grace window, the thief presents the old token.
  await page.waitForTimeout(11_000);
  const thief = await playwright.request.newContext({ baseURL: shortTtlURL });
  const replay = await thief.post("/api/v1/auth/refresh", { data: { refresh_token: stolen } });
  expect(replay.status()).toBe(401);
  await thief.dispose();
  // The person at the browser is signed out on their next step.
  await page.goto("/account");
  await expect(page).toHaveURL(/\/login/);
});
