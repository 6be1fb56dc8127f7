// Second factors in the browser: adding an authenticator app on the
// account page (its codes computed here, RFC 6238), then signing in with
// the password and a code, with a recovery code, and without JavaScript;
// a right password alone gets no session cookie. axe audits the new
// parts of both pages in both themes.
import { test, expect, type BrowserContext, type Page } from "@playwright/test";
import crypto from "node:crypto";
import { admin } from "../playwright.config";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { axe, createUser, freePort, signIn, startGatehouse, uniqueName, waitForHydration, waitReady } from "./support";

const password = "a long enough password";

/** RFC 4648 base32 (no padding) to bytes. */
function base32(text: string): Buffer {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const char of text.replace(/=+$/, "")) {
    const index = alphabet.indexOf(char.toUpperCase());
    if (index < 0) throw new Error(`not base32: ${text}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The TOTP code (SHA-1, 6 digits, 30 s) of `secret` for the step `steps` after now's. */
function totp(secret: string, steps = 0): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30_000) + steps));
  const mac = crypto.createHmac("sha1", base32(secret)).update(counter).digest();
  const offset = mac[19] & 0xf;
  const number = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return number.toString().padStart(6, "0");
}

async function themed(browser: import("@playwright/test").Browser, baseURL: string, theme: string, javaScriptEnabled = true) {
  const context = await browser.newContext({ baseURL, javaScriptEnabled });
  await context.addCookies([{ name: "gh_theme", value: theme, domain: new URL(baseURL).hostname, path: "/" }]);
  return context;
}

async function sessionCookies(context: BrowserContext) {
  return (await context.cookies()).filter((c) => c.name === "gh_access" || c.name === "gh_refresh");
}

/** Signs in with the password and adds an authenticator app; returns its secret and the recovery codes. */
async function enrol(page: Page, username: string, theme: string) {
  await signIn(page, username, password);
  await page.getByRole("button", { name: "Add an authenticator app" }).click();
  await expect(page.getByRole("img", { name: /QR code/ })).toBeVisible();
  const secret = (await page.getByTestId("totp-secret").textContent())!.trim();
  await page.getByLabel("Code from the app").fill(totp(secret) === "000000" ? "000001" : "000000");
  await page.getByRole("button", { name: "Confirm" }).click();
  await expect(page.getByText(/code is wrong|not right|does not match/i)).toBeVisible();
  await axe(page, `enrolment (${theme})`);
  await page.getByLabel("Code from the app").fill(totp(secret));
  await page.getByRole("button", { name: "Confirm" }).click();
  const codes = page.getByTestId("recovery-codes").locator("li");
  await expect(codes).toHaveCount(10);
  const recovery = await codes.allTextContents();
  await axe(page, `recovery codes (${theme})`);
  await page.getByRole("button", { name: "I saved them" }).click();
  await expect(page.getByTestId("factors").locator("li")).toHaveCount(1);
  await expect(page.getByTestId("recovery-codes-left")).toHaveText("Recovery codes left: 10");
  return { secret, recovery };
}

async function passwordStep(page: Page, username: string) {
  await page.goto("/login");
  await waitForHydration(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.getByRole("button", { name: "Continue" })).toBeVisible();
}

for (const theme of ["light", "dark"] as const) {
  test(`an authenticator app added on the account page is then needed to sign in (${theme})`, async ({ browser, baseURL }) => {
    const username = uniqueName(`mfa-${theme}`);
    await createUser(baseURL!, username, password);
    const first = await themed(browser, baseURL!, theme);
    const { secret, recovery } = await enrol(await first.newPage(), username, theme);
    await first.close();

    // A right password alone: the code step, and no session cookie.
    const device = await themed(browser, baseURL!, theme);
    const page = await device.newPage();
    await passwordStep(page, username);
    expect(await sessionCookies(device)).toEqual([]);
    const ticket = (await device.cookies()).find((c) => c.name === "gh_mfa");
    expect(ticket?.httpOnly).toBe(true);
    expect(ticket?.path).toBe("/api/v1/ui/sign-in-code");
    expect(page.url()).not.toContain(ticket!.value);
    await axe(page, `code step (${theme})`);

    // A wrong code is refused; the next step's code (the enrolment used this one) signs in.
    await page.getByLabel("Code", { exact: true }).fill(totp(secret, 1) === "123456" ? "654321" : "123456");
    await page.getByRole("button", { name: "Continue" }).click();
    await expect(page.getByRole("alert")).toBeVisible();
    expect(await sessionCookies(device)).toEqual([]);
    await page.getByLabel("Code", { exact: true }).fill(totp(secret, 1));
    await page.getByRole("button", { name: "Continue" }).click();
    await expect(page.getByTestId("username")).toHaveText(username);
    const me = await (await page.request.post("/api/v1/auth/me")).json();
    expect(me.aal).toBe(2);
    expect(me.amr).toEqual(expect.arrayContaining(["pwd", "otp"]));
    await device.close();

    // A recovery code, chosen with the keyboard, works once.
    const other = await themed(browser, baseURL!, theme);
    const second = await other.newPage();
    await passwordStep(second, username);
    await second.getByLabel("Use a recovery code").focus();
    await second.keyboard.press("Space");
    await second.getByLabel("Recovery code", { exact: true }).fill(recovery[0]);
    await second.keyboard.press("Enter");
    await expect(second.getByTestId("username")).toHaveText(username);
    await expect(second.getByTestId("recovery-codes-left")).toHaveText("Recovery codes left: 9");
    await other.close();
  });
}

test("without JavaScript the code step works and the ticket never reaches the URL", async ({ browser, baseURL }) => {
  const username = uniqueName("mfa-nojs");
  await createUser(baseURL!, username, password);
  const first = await themed(browser, baseURL!, "light");
  const { recovery } = await enrol(await first.newPage(), username, "light");
  await first.close();

  const context = await themed(browser, baseURL!, "light", false);
  const page = await context.newPage();
  await page.goto("/login");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.getByRole("button", { name: "Continue" })).toBeVisible();
  const ticket = (await context.cookies()).find((c) => c.name === "gh_mfa");
  expect(ticket, "the ticket cookie").toBeTruthy();
  expect(page.url()).not.toContain(ticket!.value);
  expect(await sessionCookies(context)).toEqual([]);
  await page.getByLabel("Use a recovery code").check();
  await page.getByLabel("Code", { exact: true }).fill(recovery[1]);
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByTestId("username")).toHaveText(username);
  expect((await sessionCookies(context)).length).toBe(2);
  expect((await context.cookies()).find((c) => c.name === "gh_mfa")).toBeUndefined();
  await context.close();
});

test("an admin sees a user's factors on the user page and resets them", async ({ page, baseURL }) => {
  const username = uniqueName("mfa-reset");
  await createUser(baseURL!, username, password);
  const login = await page.request.post("/api/v1/auth/login", { data: { username, password } });
  const headers = { Authorization: `Bearer ${(await login.json()).access_token}` };
  const userId = (await (await page.request.post("/api/v1/auth/me", { headers })).json()).user_id;
  const enrolment = await (await page.request.post("/api/v1/auth/mfa/totp/enroll", { data: { label: "Work phone" }, headers })).json();
  const confirmed = await page.request.post("/api/v1/auth/mfa/totp/confirm", {
    data: { factor_id: enrolment.factor_id, code: totp(enrolment.secret) },
    headers,
  });
  expect(confirmed.status()).toBe(200);
  await page.context().clearCookies();

  await signIn(page, admin.username, admin.password);
  await page.goto(`/console/users/${userId}`);
  await waitForHydration(page);
  await expect(page.getByTestId("user-factors").locator("li")).toHaveCount(1);
  await expect(page.getByTestId("user-factors")).toContainText("Work phone");
  await page.getByRole("button", { name: "Reset second factors" }).click();
  await expect(page.getByText("No second factor: this user signs in with a password alone.")).toBeVisible();
  const again = await page.request.post("/api/v1/auth/login", { data: { username, password } });
  expect(again.status(), "the password alone signs in after the reset").toBe(200);
});

test("a change that needs a recent second factor asks for it on the spot", async ({ browser, baseURL }) => {
  const username = uniqueName("mfa-stepup");
  await createUser(baseURL!, username, password);
  const context = await themed(browser, baseURL!, "dark");
  const page = await context.newPage();
  // The enrolling session proved no second factor: changing the password now needs one.
  const { recovery } = await enrol(page, username, "dark");
  const newPassword = "another long enough password";
  const change = page.getByTestId("change-password");
  await change.getByLabel("Current password").fill(password);
  await change.getByLabel("New password", { exact: true }).fill(newPassword);
  await change.getByLabel("New password, again").fill(newPassword);
  await change.getByRole("button", { name: "Change password" }).click();
  const prompt = page.getByTestId("step-up");
  await expect(prompt).toContainText("needs a recent proof of your second factor");
  await axe(page, "step-up prompt (dark)");
  await prompt.getByLabel("Use a recovery code").check();
  await prompt.getByLabel("Code", { exact: true }).fill(recovery[2]);
  await prompt.getByRole("button", { name: "Confirm" }).click();
  await expect(prompt).toContainText("Now do it again");
  const me = await (await page.request.post("/api/v1/auth/me")).json();
  expect(me.aal).toBe(2);
  await change.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByText("Password changed.")).toBeVisible();
  await context.close();
});

test("an admin whose role requires a second factor is led to enrol one first", async ({ browser }) => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = startGatehouse(port, fs.mkdtempSync(path.join(os.tmpdir(), "gh-e2e-mfa-")), ["--mfa-required-roles", "admin"]);
  try {
    await waitReady(url);
    const context = await themed(browser, url, "light");
    const page = await context.newPage();
    await page.goto("/login?next=/console");
    await waitForHydration(page);
    await page.getByLabel("Username").fill(admin.username);
    await page.getByLabel("Password").fill(admin.password);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect(page.getByRole("heading", { name: "Add a second factor" })).toBeVisible();
    await axe(page, "required enrolment");
    // Nothing else is open until then: pages lead back here.
    await page.goto("/console");
    await expect(page).toHaveURL(/\/account$/);
    await waitForHydration(page);
    await page.getByRole("button", { name: "Add an authenticator app" }).click();
    const secret = (await page.getByTestId("totp-secret").textContent())!.trim();
    await page.getByLabel("Code from the app").fill(totp(secret));
    await page.getByRole("button", { name: "Confirm" }).click();
    await expect(page.getByTestId("recovery-codes").locator("li")).toHaveCount(10);
    await page.getByRole("button", { name: "I saved them" }).click();
    await expect(page.getByRole("heading", { name: "Account" })).toBeVisible();
    await page.goto("/console");
    await expect(page).toHaveURL(/\/console$/);
    await context.close();
  } finally {
    server.kill("SIGTERM");
  }
});

test("a remembered browser skips the second factor until it is forgotten", async ({ browser, baseURL }) => {
  const username = uniqueName("mfa-remember");
  await createUser(baseURL!, username, password);
  const first = await themed(browser, baseURL!, "light");
  const { secret } = await enrol(await first.newPage(), username, "light");
  await first.close();

  const context = await themed(browser, baseURL!, "light");
  const page = await context.newPage();
  await passwordStep(page, username);
  await page.getByLabel("Code", { exact: true }).fill(totp(secret, 1));
  await page.getByLabel("Remember this browser for 30 days").check();
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByTestId("username")).toHaveText(username);
  const device = (await context.cookies()).find((c) => c.name === "gh_device");
  expect(device?.httpOnly).toBe(true);

  // Signed out, the password alone signs this browser in.
  await context.clearCookies({ name: "gh_access" });
  await context.clearCookies({ name: "gh_refresh" });
  await signIn(page, username, password);
  await expect(page.getByTestId("remembered-devices").locator("li")).toHaveCount(1);
  await page.getByRole("button", { name: /^Forget / }).click();
  await expect(page.getByTestId("remembered-devices")).toHaveCount(0);

  await context.clearCookies({ name: "gh_access" });
  await context.clearCookies({ name: "gh_refresh" });
  await passwordStep(page, username);
  await context.close();
});
