// Security keys and passkeys in Chromium with a virtual authenticator
// (CDP `WebAuthn.addVirtualAuthenticator`): a passkey registered on the
// account page signs in without a username or password at aal 2; one
// whose authenticator does not verify the user signs no one in alone; a
// security key that does not verify the user is a second factor after the
// password (aal 2 with `pwd` and `hwk`, no `user`), and the password alone
// gets no session cookie.
//
// WebAuthn needs a host name, not an IP address: these pages are opened
// at `localhost` (Gatehouse's default public URL, `--public-url`).
import { test, expect, type Browser, type BrowserContext, type CDPSession, type Page } from "@playwright/test";
import { axe, createUser, signIn, uniqueName, waitForHydration } from "./support";

const password = "a long enough password";

type Authenticator = { cdp: CDPSession; authenticatorId: string };

/** The test server's origin at `localhost` instead of 127.0.0.1. */
function localhost(baseURL: string): string {
  const url = new URL(baseURL);
  url.hostname = "localhost";
  return url.origin;
}

async function localContext(browser: Browser, baseURL: string, theme = "light"): Promise<BrowserContext> {
  const origin = localhost(baseURL);
  const context = await browser.newContext({ baseURL: origin });
  await context.addCookies([{ name: "gh_theme", value: theme, domain: "localhost", path: "/" }]);
  return context;
}

/** A virtual authenticator on `page`: a platform one with resident keys
 * (a passkey), or a USB key without them and without user verification. */
async function addAuthenticator(page: Page, kind: "platform" | "usb-key"): Promise<Authenticator> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  const platform = kind === "platform";
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: platform ? "internal" : "usb",
      hasResidentKey: platform,
      hasUserVerification: platform,
      isUserVerified: platform,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, authenticatorId };
}

async function me(page: Page): Promise<{ aal: number; amr: string[]; username: string }> {
  return page.evaluate(async () => (await fetch("/api/v1/auth/me", { method: "POST" })).json());
}

async function sessionCookies(context: BrowserContext) {
  return (await context.cookies()).filter((c) => c.name === "gh_access" || c.name === "gh_refresh");
}

/** Signs in with the password and registers the authenticator's key on
 * the account page (the account's first factor: recovery codes shown). */
async function register(page: Page, username: string, kind: "Passkey" | "Security key") {
  await signIn(page, username, password);
  await page.getByRole("button", { name: "Register a passkey or security key" }).click();
  await expect(page.getByTestId("recovery-codes").locator("li")).toHaveCount(10);
  await page.getByRole("button", { name: "I saved them" }).click();
  await expect(page.getByTestId("factors")).toContainText(kind);
}

test("a passkey registered on the account page signs in without a password, at aal 2", async ({ browser, baseURL }) => {
  const username = uniqueName("passkey");
  await createUser(baseURL!, username, password);
  const context = await localContext(browser, baseURL!);
  const page = await context.newPage();
  await addAuthenticator(page, "platform");
  await register(page, username, "Passkey");

  await context.clearCookies();
  await page.goto("/login");
  await waitForHydration(page);
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByTestId("username")).toHaveText(username);
  const identity = await me(page);
  expect(identity.aal).toBe(2);
  expect(identity.amr).toContain("user");
  expect(identity.amr).not.toContain("pwd");
  expect(identity.amr.some((m) => m === "hwk" || m === "swk")).toBe(true);
  await context.close();
});

test("a passkey whose authenticator does not verify the user signs no one in alone", async ({ browser, baseURL }) => {
  const username = uniqueName("passkey-uv");
  await createUser(baseURL!, username, password);
  const context = await localContext(browser, baseURL!);
  const page = await context.newPage();
  const { cdp, authenticatorId } = await addAuthenticator(page, "platform");
  await register(page, username, "Passkey");

  await cdp.send("WebAuthn.setUserVerified", { authenticatorId, isUserVerified: false });
  await context.clearCookies();
  await page.goto("/login");
  await waitForHydration(page);
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page.getByRole("alert").or(page.getByText(/did not verify|expired|sign in again|mfa|second factor|nothing was used/i)).first()).toBeVisible();
  await expect(page).toHaveURL(/\/login/);
  expect(await sessionCookies(context)).toEqual([]);
  await context.close();
});

for (const theme of ["light", "dark"]) {
  test(`a security key is a second factor after the password (${theme})`, async ({ browser, baseURL }) => {
    const username = uniqueName("seckey");
    await createUser(baseURL!, username, password);
    const context = await localContext(browser, baseURL!, theme);
    const page = await context.newPage();
    await addAuthenticator(page, "usb-key");
    await register(page, username, "Security key");

    await context.clearCookies();
    await page.goto("/login");
    await waitForHydration(page);
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    const useKey = page.getByRole("button", { name: "Use my security key or passkey" });
    await expect(useKey).toBeVisible();
    // The password alone: no session.
    expect(await sessionCookies(context)).toEqual([]);
    await axe(page, `code step with a security key (${theme})`);
    await useKey.click();
    await expect(page).toHaveURL(/\/account$/);
    const identity = await me(page);
    expect(identity.aal).toBe(2);
    expect(identity.amr).toEqual(expect.arrayContaining(["pwd", "hwk"]));
    expect(identity.amr).not.toContain("user");
    await axe(page, `account page with a security key (${theme})`);
    await context.close();
  });
}
