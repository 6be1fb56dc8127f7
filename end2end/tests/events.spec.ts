import { test, expect, request as playwrightRequest } from "@playwright/test";
import { admin } from "../playwright.config";
import { collectErrors, createUser, signIn, uniqueName, waitForHydration } from "./support";

const password = "a long enough password";

/** One sign-in attempt through the JSON API (its own client, no cookies kept). */
async function attempt(baseURL: string, username: string, secret: string) {
  const api = await playwrightRequest.newContext({ baseURL });
  const response = await api.post("/api/v1/auth/login", { data: { username, password: secret } });
  await api.dispose();
  return response.status();
}

test("the kind filter offers every kind of the vocabulary, grouped and labelled", async ({ page, request }) => {
  const errors = collectErrors(page);
  await signIn(page, admin.username, admin.password);
  await page.goto("/console/events");
  await waitForHydration(page);

  // The vocabulary, as the API document states it.
  const document = await (await request.get("/api/v1/openapi.json")).json();
  const kinds: string[] = document.components.schemas.Kind.enum;
  expect(kinds).toContain("login_challenged");

  const select = page.getByLabel("Type");
  const offered = await select.locator("option").evaluateAll((options) =>
    options.map((o) => (o as HTMLOptionElement).value).filter((v) => v !== ""),
  );
  expect([...offered].sort()).toEqual([...kinds].sort());
  const groups = await select.locator("optgroup").evaluateAll((g) => g.map((e) => e.getAttribute("label")));
  expect(groups).toEqual(["Sign-in", "Sessions", "Tokens", "Passwords", "Locks", "Rate limits", "Redis", "Admin actions", "Alerts"]);
  // Options read as words, not wire names.
  await expect(select.locator("option[value='login_failed']")).toHaveText("Sign-in failed");
  expect(errors).toEqual([]);
});

test("filters narrow stored and live events by kind, user and address", async ({ page, baseURL }) => {
  const errors = collectErrors(page);
  const username = uniqueName("filtered");
  await createUser(baseURL!, username, password);
  expect(await attempt(baseURL!, username, "not the password at all")).toBe(401);
  expect(await attempt(baseURL!, username, password)).toBe(200);

  await signIn(page, admin.username, admin.password);
  await page.goto("/console/events");
  await waitForHydration(page);
  await expect(page.getByTestId("live")).toHaveAttribute("data-connected", "true", { timeout: 10_000 });
  const events = page.getByTestId("events");

  // Failed sign-ins of this user only.
  await page.getByLabel("Type").selectOption("login_failed");
  await page.getByPlaceholder("User").fill(username);
  await page.getByRole("button", { name: "Filter" }).click();
  const failed = events.locator("li[data-kind='login_failed']", { hasText: username });
  await expect(failed).toHaveCount(1);
  await expect(events.locator("li")).toHaveCount(1);
  await expect(failed).toContainText("Sign-in failed");
  await expect(failed).toContainText("reason=invalid_credentials");

  // Live: another failure arrives without a reload; a success does not pass the filter.
  expect(await attempt(baseURL!, username, password)).toBe(200);
  expect(await attempt(baseURL!, username, "still not the password")).toBe(401);
  await expect(failed).toHaveCount(2, { timeout: 10_000 });
  await expect(events.locator("li:not([data-kind='login_failed'])")).toHaveCount(0);

  // All kinds of this user: the sign-ins are there too.
  await page.getByLabel("Type").selectOption("");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(events.locator("li[data-kind='login_succeeded']", { hasText: username })).toHaveCount(2);

  // By address: the attempts came from loopback; another address has none of them.
  await page.getByLabel("Type").selectOption("login_failed");
  await page.getByPlaceholder("IP").fill("127.0.0.1");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(failed).toHaveCount(2);
  await page.getByPlaceholder("IP").fill("192.0.2.55");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(events.locator("li")).toHaveCount(0);
  expect(errors).toEqual([]);
});
