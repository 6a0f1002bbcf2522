import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/**
 * Headless Debian Chromium driven by playwright-core, locked down: a fresh profile per launch, no network
 * (every request other than the report file itself is aborted and recorded), and every console message,
 * page error and dialog recorded so tests can assert that nothing ran.
 */

export const CHROMIUM = '/usr/bin/chromium';
export const HAS_CHROMIUM = existsSync(CHROMIUM);
export const CHROMIUM_REQUIRED = process.env['REFUSENIK_CI'] === '1';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Observed {
  console: { type: string; text: string }[];
  pageErrors: string[];
  dialogs: string[];
  /** Requests the page tried to make other than loading the report file. */
  blockedRequests: string[];
}

export async function openBrowser(): Promise<BrowserContext> {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'refusenik-chromium-'));
  // playwright passes the profile as --user-data-dir; a fresh one per launch.
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
  });
}

export async function openReport(
  context: BrowserContext,
  file: string,
): Promise<{ page: Page; observed: Observed }> {
  const url = `file://${path.resolve(file)}`;
  const observed: Observed = { console: [], pageErrors: [], dialogs: [], blockedRequests: [] };
  const page = await context.newPage();
  await page.route('**/*', (route) => {
    if (route.request().url() === url) return route.continue();
    observed.blockedRequests.push(route.request().url());
    return route.abort();
  });
  page.on('console', (m) => observed.console.push({ type: m.type(), text: m.text() }));
  page.on('pageerror', (e) => observed.pageErrors.push(e.message));
  page.on('dialog', (d) => {
    observed.dialogs.push(d.message());
    void d.dismiss();
  });
  await page.goto(url);
  await page.waitForSelector('body[data-rendered="1"]');
  return { page, observed };
}
