import { test, expect, type Page } from "@playwright/test";
import { admin } from "../playwright.config";
import { collectErrors, signIn, waitForHydration } from "./support";

/** The wasm files a page fetches, by name. */
function wasmFetched(page: Page): string[] {
  const names: string[] = [];
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.pathname.startsWith("/pkg/") && url.pathname.endsWith(".wasm")) {
      names.push(url.pathname.slice("/pkg/".length));
    }
  });
  return names;
}

test("the sign-in page loads the main bundle only, the account page too; a console page fetches its own chunk", async ({ page }) => {
  const errors = collectErrors(page);
  const fetched = wasmFetched(page);
  await page.goto("/login");
  await waitForHydration(page);
  expect(fetched.filter((name) => name !== "gatehouse.wasm")).toEqual([]);
  await signIn(page, admin.username, admin.password);
  // The account page loads the main bundle only too.
  await expect(page.getByLabel("Current password")).toBeVisible();
  await expect(page.getByRole("button", { name: "Add an authenticator app" })).toBeVisible();
  expect(fetched.filter((name) => name !== "gatehouse.wasm")).toEqual([]);

  // Opened directly (server-rendered, then hydrated with its chunk) ...
  await page.goto("/console/locks");
  await waitForHydration(page);
  await expect(page).toHaveTitle(/^(\(\d+\) )?Locks · Console/);
  await expect(page.getByRole("button", { name: "Take a demo lock" })).toBeVisible();
  expect(fetched.some((name) => name.startsWith("split___locks_view"))).toBe(true);
  expect(fetched.some((name) => name.startsWith("split___events_view"))).toBe(false);

  // ... and reached by the console's own navigation.
  await page.getByRole("link", { name: "Events" }).click();
  await expect(page).toHaveURL(/\/console\/events$/);
  await expect(page).toHaveTitle(/^(\(\d+\) )?Events · Console/);
  await expect(page.getByTestId("events")).toBeVisible();
  expect(fetched.some((name) => name.startsWith("split___events_view"))).toBe(true);
  expect(errors).toEqual([]);
});
