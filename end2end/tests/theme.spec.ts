import { test, expect, Page } from "@playwright/test";
import { collectErrors, waitForHydration } from "./support";

/** Whether the page's background, as the browser paints it, is dark. */
async function isDark(page: Page): Promise<boolean> {
  return page.evaluate(() => {
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 1;
    const pen = canvas.getContext("2d")!;
    pen.fillStyle = getComputedStyle(document.body).backgroundColor;
    pen.fillRect(0, 0, 1, 1);
    const [r, g, b] = pen.getImageData(0, 0, 1, 1).data;
    return (r + g + b) / 3 < 128;
  });
}

test("the theme follows the system until the reader chooses one", async ({ browser }) => {
  for (const [scheme, dark] of [["light", false], ["dark", true]] as const) {
    const context = await browser.newContext({ colorScheme: scheme });
    const page = await context.newPage();
    await page.goto("/");
    await expect(page.locator("html")).not.toHaveAttribute("data-theme", /.*/);
    expect(await isDark(page)).toBe(dark);
    await context.close();
  }
});

test("a chosen theme applies at once, is remembered, and is in the first paint", async ({ browser }) => {
  const context = await browser.newContext({ colorScheme: "light" });
  const page = await context.newPage();
  const errors = collectErrors(page);
  await page.goto("/");
  await waitForHydration(page);
  const menu = page.getByRole("combobox", { name: "Theme" });
  await expect(menu).toHaveValue("system");

  await menu.selectOption("dark");
  await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");
  expect(await isDark(page)).toBe(true);

  // The server writes the choice into the HTML itself: no flash of the
  // wrong theme, even before (or without) any script.
  const html = await (await context.request.get("/")).text();
  expect(html).toContain('<html lang="en" data-theme="dark"');
  await page.reload();
  expect(await isDark(page)).toBe(true);
  await waitForHydration(page);
  await expect(menu).toHaveValue("dark");

  // Light wins over a dark system; "System" hands back to it.
  await menu.selectOption("light");
  await expect(page.locator("html")).toHaveAttribute("data-theme", "light");
  await page.emulateMedia({ colorScheme: "dark" });
  expect(await isDark(page)).toBe(false);
  await menu.selectOption("system");
  await expect(page.locator("html")).not.toHaveAttribute("data-theme", /.*/);
  expect(await isDark(page)).toBe(true);
  expect(errors).toEqual([]);
  await context.close();
});
