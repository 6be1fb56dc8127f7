import { test, expect, request as playwrightRequest } from "@playwright/test";
import { admin } from "../playwright.config";
import { createUser, uniqueName, waitForHydration } from "./support";

const password = "a long enough password";

test("after many failed sign-ins to a username, the browser solves a challenge by itself and signs in", async ({ page, baseURL }) => {
  const username = uniqueName("targeted");
  await createUser(baseURL!, username, password);
  // Ten wrong passwords from ten addresses (through the trusted local proxy).
  const attacker = await playwrightRequest.newContext({ baseURL });
  for (let i = 0; i < 10; i++) {
    const failed = await attacker.post("/api/v1/auth/login", {
      data: { username, password: "guessing" },
      headers: { "X-Forwarded-For": `203.0.113.${i + 1}` },
    });
    expect(failed.status()).toBe(401);
  }
  // A program without a solution is asked for one, before any password check.
  const refused = await attacker.post("/api/v1/auth/login", { data: { username, password } });
  expect(refused.status()).toBe(401);
  const body = await refused.json();
  expect(body.error).toBe("challenge_required");
  expect(body.challenge.algorithm).toBe("sha256-leading-zero-bits");
  await attacker.dispose();

  // The person signs in as usual; the page does the work.
  await page.goto("/login");
  await waitForHydration(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  const started = Date.now();
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page).toHaveURL(/\/account$/, { timeout: 20_000 });
  await expect(page.getByTestId("username")).toHaveText(username);
  const took = Date.now() - started;
  test.info().annotations.push({ type: "challenge solved and signed in (ms)", description: String(took) });
  console.log(`challenge solved and signed in within ${took} ms`);

  // The server saw the challenge being required.
  const api = await playwrightRequest.newContext({ baseURL });
  const login = await api.post("/api/v1/auth/login", { data: { username: admin.username, password: admin.password } });
  const { access_token } = await login.json();
  const events = await api.post("/api/v1/admin/events/recent", {
    data: { kind: "login_challenged", user: username },
    headers: { Authorization: `Bearer ${access_token}` },
  });
  expect((await events.json()).events.length).toBeGreaterThan(0);
  await api.dispose();
});
