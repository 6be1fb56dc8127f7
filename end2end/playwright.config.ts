// Playwright runs Gatehouse's release binary, with its own embedded Redis
// on a free port and a throwaway data directory, and drives Debian's
// Chromium against it. Never `npx playwright install`: browser downloads
// are not possible here, and the system Chromium is what we test.
import { defineConfig } from "@playwright/test";
import { execFileSync, execSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const root = path.resolve(__dirname, "..");

// The config is evaluated by the runner and again by every worker; the
// runner's choices travel to the workers through the environment.
if (!process.env.GATEHOUSE_E2E_PORT) {
  process.env.GATEHOUSE_E2E_PORT = execFileSync(process.execPath, [
    "-e",
    "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})",
  ])
    .toString()
    .trim();
}
if (!process.env.GATEHOUSE_E2E_SHORT_DATA) {
  process.env.GATEHOUSE_E2E_SHORT_DATA = fs.mkdtempSync(path.join(os.tmpdir(), "gh-e2e-short-"));
}
if (!process.env.GATEHOUSE_E2E_DATA) {
  process.env.GATEHOUSE_E2E_DATA = fs.mkdtempSync(path.join(os.tmpdir(), "gh-e2e-"));
}
function freePort(): string {
  return execFileSync(process.execPath, [
    "-e",
    "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})",
  ])
    .toString()
    .trim();
}
if (!process.env.GATEHOUSE_E2E_SHORT_PORT) {
  process.env.GATEHOUSE_E2E_SHORT_PORT = freePort();
}
if (!process.env.GATEHOUSE_E2E_CLUSTER_PORT) {
  process.env.GATEHOUSE_E2E_CLUSTER_PORT = freePort();
  process.env.GATEHOUSE_E2E_CLUSTER_NODES = [freePort(), freePort(), freePort()].join(",");
  process.env.GATEHOUSE_E2E_CLUSTER_DATA = fs.mkdtempSync(path.join(os.tmpdir(), "gh-e2e-cluster-"));
}
const port = process.env.GATEHOUSE_E2E_PORT;
const dataDir = process.env.GATEHOUSE_E2E_DATA;
/** A second instance whose access tokens live 5 s, for renewal tests. */
const shortPort = process.env.GATEHOUSE_E2E_SHORT_PORT;
export const shortTtlURL = `http://127.0.0.1:${shortPort}`;
/** A third instance on a private three-node Redis Cluster. */
const clusterPort = process.env.GATEHOUSE_E2E_CLUSTER_PORT;
const clusterURL = `http://127.0.0.1:${clusterPort}`;

// The admin the tests use; its password file lives in the throwaway data dir.
export const admin = { username: "e2e-admin", password: "e2e-admin-password" };
export const adminPasswordFile = path.join(dataDir, "admin-password");
export const projectRoot = root;
fs.writeFileSync(adminPasswordFile, admin.password + "\n", { mode: 0o600 });
const baseURL = `http://127.0.0.1:${port}`;

/** The release binary: $GATEHOUSE_BIN, else from cargo's target directory. */
export function gatehouseBinary(): string {
  if (process.env.GATEHOUSE_BIN) return process.env.GATEHOUSE_BIN;
  const metadata = JSON.parse(
    execSync("cargo metadata --format-version 1 --no-deps", { cwd: root }).toString(),
  );
  return path.join(metadata.target_directory, "release", "gatehouse");
}

/** A Gatehouse instance with its own embedded Redis (or, with `prefix`,
 * what the prefix starts) and the test admin. */
function gatehouse(port: string, dataDir: string, extra: string[], prefix: string[] = []) {
  const url = `http://127.0.0.1:${port}`;
  return {
    command: [
      ...prefix,
      `"${gatehouseBinary()}"`,
      `--addr 127.0.0.1:${port}`,
      `--data-dir "${dataDir}"`,
      `--admin-user ${admin.username}`,
      `--admin-password-file "${adminPasswordFile}"`,
      // Every test signs in from 127.0.0.1: lift the per-address sign-in
      // limit (20/min by default) so the suite is not throttled by itself.
      `--rate-limit "name=login-ip,key=ip,limit=10000,window=1m,routes=/api/v1/auth/login|/api/v1/ui/sign-in,fail=closed"`,
      // Likewise the failures per address that turn on sign-in challenges
      // (the suite's wrong passwords all come from 127.0.0.1); the
      // challenge test stands for other addresses with X-Forwarded-For.
      `--rate-limit "name=challenge-ip,key=ip,limit=100000,window=15m,fail=closed"`,
      `--trusted-proxies 127.0.0.1/32`,
      ...extra,
    ].join(" "),
    url: `${url}/ready`,
    cwd: root,
    env: {
      GATEHOUSE_SITE_ROOT: path.join(root, "target", "site"),
      RUST_LOG: process.env.RUST_LOG ?? "info",
    },
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "pipe" as const,
    stderr: "pipe" as const,
    gracefulShutdown: { signal: "SIGTERM" as const, timeout: 10_000 },
  };
}

export const chromiumArgs = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export default defineConfig({
  testDir: "./tests",
  outputDir: "./test-results",
  timeout: 30_000,
  expect: { timeout: 5_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: true,
  use: {
    baseURL,
    browserName: "chromium",
    headless: true,
    launchOptions: { executablePath: "/usr/bin/chromium", args: chromiumArgs },
    screenshot: "only-on-failure",
    trace: "retain-on-failure",
  },
  projects: [
    { name: "single", use: { baseURL } },
    {
      // Sign-in and the live console again, on a real Redis Cluster (the
      // tests that start servers of their own, or take screenshots, once).
      name: "cluster",
      use: { baseURL: clusterURL },
      testMatch: [/auth\.spec\.ts/, /console\.spec\.ts/],
      grepInvert: /live indicator goes grey|390 px/,
    },
  ],
  webServer: [
    gatehouse(port!, dataDir!, []),
    gatehouse(clusterPort!, process.env.GATEHOUSE_E2E_CLUSTER_DATA!, [], [
      "bash",
      `"${path.join(root, "end2end", "cluster.sh")}"`,
      `"${process.env.GATEHOUSE_E2E_CLUSTER_DATA}"`,
      process.env.GATEHOUSE_E2E_CLUSTER_NODES!,
    ]),
    gatehouse(shortPort!, process.env.GATEHOUSE_E2E_SHORT_DATA!, [
      "--access-ttl 5s",
      `--rate-limit "name=login-lockout,key=ip+username,limit=5,window=10s,fail=closed"`,
    ]),
  ],
});
