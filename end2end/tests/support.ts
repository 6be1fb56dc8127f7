// Helpers shared by the browser tests.
import { expect, type Page, type TestInfo } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import fs from "node:fs";
import path from "node:path";

/** Fails on serious or critical WCAG 2.1 AA violations axe finds on the page. */
export async function axe(page: Page, what: string) {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  const problems = results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${what}: ${v.id} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  expect(problems, problems.join("\n")).toEqual([]);
}

/** Resolves once the wasm bundle has hydrated the page. */
export async function waitForHydration(page: Page) {
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true", { timeout: 15_000 });
}

/** Records console errors and uncaught exceptions for the test to assert on. */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(error.message));
  return errors;
}

/** Fails if the page scrolls sideways at its current viewport width. */
export async function expectNoHorizontalScroll(page: Page) {
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  expect(overflow, "page is wider than the viewport").toBeLessThanOrEqual(0);
}

/** A full-page screenshot kept in end2end/artifacts (and attached to the report). */
export async function keepScreenshot(page: Page, testInfo: TestInfo, name: string) {
  const dir = path.join(__dirname, "..", "artifacts");
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  await testInfo.attach(name, { path: file, contentType: "image/png" });
}

import { request as playwrightRequest, type Browser, type BrowserContext } from "@playwright/test";
import { admin, adminPasswordFile, gatehouseBinary, projectRoot } from "../playwright.config";
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";

/** A unique name for this test run, so tests never share users. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/** Creates a user through the admin JSON API. */
export async function createUser(baseURL: string, username: string, password: string, roles = ["user"]) {
  const api = await playwrightRequest.newContext({ baseURL });
  const login = await api.post("/api/v1/auth/login", {
    data: { username: admin.username, password: admin.password },
  });
  expect(login.status()).toBe(200);
  const { access_token } = await login.json();
  const created = await api.post("/api/v1/admin/users/create", {
    data: { username, password, roles },
    headers: { Authorization: `Bearer ${access_token}` },
  });
  expect(created.status(), await created.text()).toBe(200);
  await api.dispose();
}

/** Signs in through the login page and waits for the account page. */
export async function signIn(page: Page, username: string, password: string) {
  await page.goto("/login");
  await waitForHydration(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByTestId("username")).toHaveText(username);
}

/** A fresh browser context (its own cookies: another device). */
export async function newDevice(browser: Browser, baseURL: string): Promise<BrowserContext> {
  return browser.newContext({ baseURL });
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Starts a Gatehouse of its own (embedded Redis in `dataDir`), with the test admin. */
export function startGatehouse(port: number, dataDir: string, extra: string[] = []): ChildProcess {
  return spawn(
    gatehouseBinary(),
    [
      "--addr", `127.0.0.1:${port}`,
      "--data-dir", dataDir,
      "--admin-user", admin.username,
      "--admin-password-file", adminPasswordFile,
      ...extra,
    ],
    { cwd: projectRoot, env: { ...process.env, GATEHOUSE_SITE_ROOT: path.join(projectRoot, "target", "site") }, stdio: "ignore" },
  );
}

/** Resolves once `url` answers /ready. */
export async function waitReady(url: string) {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${url}/ready`)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} never became ready`);
}

