import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/**
 * The console's browser tests drive Debian's chromium through playwright-core (no browser download):
 * one browser per test file, a fresh profile, loopback only. Where chromium is missing they skip
 * with that reason (`.ci/run` installs it).
 */
export const CHROMIUM = '/usr/bin/chromium';
export const BROWSER_SKIP: string | false = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install chromium)`;

/** Chromium's flags here: headless as root, and none of its own network traffic (only loopback is reachable). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface TestBrowser {
  readonly browser: Browser;
  /** A fresh context (its own session storage) at the given viewport. */
  context(viewport?: { width: number; height: number }): Promise<BrowserContext>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  // playwright-core gives each launch a fresh temporary profile (--user-data-dir) of its own and removes it on close.
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  return {
    browser,
    context: (viewport = DESKTOP) => browser.newContext({ viewport }),
    close: async () => {
      await browser.close();
    },
  };
}

export const DESKTOP = { width: 1280, height: 800 } as const;
export const PHONE = { width: 390, height: 844 } as const;

/** Opens the console on a page and logs in with `key`; resolves once the navigation shows. */
export async function openConsole(g: { url: string }, page: Page, key: string, hash = ''): Promise<void> {
  await page.goto(`${g.url}/console/${hash}`);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('button', { name: 'Log out' }).waitFor();
}

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core on the page as it is now: fails on serious or critical violations, naming each rule and its targets. */
export async function checkA11y(page: Page, where: string): Promise<void> {
  // The test's tsconfig has no DOM types: the page's globals are reached through globalThis. Evaluated
  // through the DevTools protocol, not added as an inline <script>: the console's CSP refuses those.
  if (!(await page.evaluate(() => 'axe' in globalThis))) await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    type Axe = { run(): Promise<{ violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[] }> };
    const r = await (globalThis as unknown as { axe: Axe }).axe.run();
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => JSON.stringify(n.target)) }));
  });
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    bad.map((v) => `${v.impact} ${v.id} (${v.help}): ${v.targets.join(', ')}`),
    [],
    `accessibility violations on ${where}`,
  );
}

/**
 * Every Content-Security-Policy violation the page reports from now on (Chromium logs each as a
 * console error): the console must work within its own policy (src/api/edge/console-static.ts).
 */
export function cspViolations(page: Page): string[] {
  const seen: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) seen.push(m.text());
  });
  return seen;
}

const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'console');

/** A screenshot as a test artifact (`test-artifacts/console/<name>.png`), never compared. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
