// Accessibility: axe audits every page in light and dark themes, and the
// console can be used with the keyboard alone.
import { test, expect, type Page, type BrowserContext, type Locator } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { admin } from "../playwright.config";
import { createUser, newDevice, signIn, uniqueName, waitForHydration } from "./support";

const pages = [
  "/",
  "/account",
  "/console",
  "/console/sessions",
  "/console/users",
  "/console/locks",
  "/console/blacklist",
  "/console/windows",
  "/console/events",
  "/console/alerts",
];

/** Serious or critical WCAG 2.1 A/AA violations on the page, described. */
async function audit(page: Page, what: string): Promise<string[]> {
  const results = await new AxeBuilder({ page })
    .withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"])
    .analyze();
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .flatMap((v) =>
      v.nodes.map(
        (n) => `${what}: ${v.id} (${v.impact}) at ${n.target.join(" ")}: ${n.failureSummary?.split("\n").slice(1).join(" ").trim()}`,
      ),
    );
}

async function withTheme(context: BrowserContext, theme: "light" | "dark") {
  const url = new URL(test.info().project.use.baseURL!);
  await context.addCookies([{ name: "gh_theme", value: theme, domain: url.hostname, path: "/" }]);
}

for (const theme of ["light", "dark"] as const) {
  test(`every page passes axe in the ${theme} theme`, async ({ browser, baseURL }) => {
    const context = await newDevice(browser, baseURL!);
    await withTheme(context, theme);
    const page = await context.newPage();
    await page.goto("/login");
    await waitForHydration(page);
    const problems = await audit(page, `/login (${theme})`);
    await signIn(page, admin.username, admin.password);
    const me = await (await page.request.post("/api/v1/auth/me")).json();
    for (const path of [...pages, `/console/users/${me.user_id}`]) {
      await page.goto(path);
      await waitForHydration(page);
      await expect(page.locator("html")).toHaveAttribute("data-theme", theme);
      problems.push(...(await audit(page, `${path} (${theme})`)));
    }
    expect(problems.length, problems.join("\n")).toBe(0);
    await context.close();
  });
}

test("the keyboard alone signs in, reaches the console and revokes a session", async ({ page, browser, baseURL }) => {
  const username = uniqueName("keyboard");
  const password = "a long enough password";
  await createUser(baseURL!, username, password);
  const other = await newDevice(browser, baseURL!);
  await signIn(await other.newPage(), username, password);

  /** Presses Tab until `target` has the focus, which must be visible. */
  const tabTo = async (target: Locator, label: string) => {
    await target.evaluate((el) => el.setAttribute("data-keyboard-target", ""));
    for (let i = 0; i < 60; i++) {
      await page.keyboard.press("Tab");
      const state = await page.evaluate(() => {
        const el = document.activeElement;
        if (!el?.hasAttribute("data-keyboard-target")) return null;
        const style = getComputedStyle(el);
        const outline = style.outlineStyle !== "none" && style.outlineWidth !== "0px";
        return { visible: outline || style.boxShadow !== "none" };
      });
      if (state) {
        expect(state.visible, `${label}: focus is not visible`).toBe(true);
        return;
      }
    }
    throw new Error(`Tab never reached ${label}`);
  };

  await page.goto("/login");
  await waitForHydration(page);
  await tabTo(page.getByLabel("Username"), "the username field");
  await page.keyboard.type(admin.username);
  await tabTo(page.getByLabel("Password"), "the password field");
  await page.keyboard.type(admin.password);
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/account$/);
  await waitForHydration(page);

  await tabTo(page.getByRole("link", { name: "Console" }), "the Console link");
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/console$/);
  await waitForHydration(page);
  await tabTo(page.getByRole("link", { name: "Sessions", exact: true }), "the Sessions link");
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/console\/sessions$/);
  await waitForHydration(page);

  const row = page.getByTestId("sessions-table").locator("tr", { hasText: username });
  await expect(row).toBeVisible();
  await tabTo(row.getByRole("button", { name: `Revoke session of ${username}` }), "the Revoke button");
  await page.keyboard.press("Enter");
  await expect(row).toHaveCount(0);
  // The live region said so, politely.
  await expect(page.getByTestId("announcer")).toContainText("New event");
  await expect(page.getByTestId("announcer")).toHaveAttribute("aria-live", "polite");
  await other.close();
});
