import { readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext } from 'playwright-core';
import { runCli, tempDir } from '../helpers/cli.js';
import { CHROMIUM, CHROMIUM_REQUIRED, HAS_CHROMIUM, openBrowser, openReport } from './browser.js';
import { createPayloadRun, HOSTILE_LABEL, PAYLOAD_RESPONSE, type PayloadRun } from './payload-run.js';
import { writeSyntheticRun } from './synthetic-run.js';

/**
 * The HTML report in a real headless Chromium: it renders offline, its charts exist, and hostile model output
 * (script tags, event-handler attributes, </textarea>, </script>) is shown as text and never runs.
 */

if (!HAS_CHROMIUM && !CHROMIUM_REQUIRED) {
  console.warn(`skipping the HTML report browser tests: ${CHROMIUM} not found (apt-get install chromium)`);
}

describe.runIf(!HAS_CHROMIUM && CHROMIUM_REQUIRED)('HTML report browser test prerequisites', () => {
  it('needs Chromium when REFUSENIK_CI=1', () => {
    throw new Error(`${CHROMIUM} is missing; .ci/run installs it (apt-get install chromium)`);
  });
});

describe.runIf(HAS_CHROMIUM)('refusenik report --format html (headless Chromium)', () => {
  const dir = tempDir('refusenik-html-');
  let run: PayloadRun;
  let html: string;
  let file: string;
  let context: BrowserContext;

  beforeAll(async () => {
    run = await createPayloadRun(dir);
    file = path.join(dir, 'report.html');
    const res = await runCli(['report', run.runId, '--db', run.db, '--format', 'html', '--out', file]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    html = readFileSync(file, 'utf8');
    context = await openBrowser();
  });
  afterAll(async () => {
    await context?.close();
    rmSync(dir, { recursive: true, force: true }); // the 10k-case run and its page are ~25 MB
  });

  it('is one self-contained file: no external references, a strict CSP, data only in the JSON block', () => {
    expect(html).toMatch(
      /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'sha256-/,
    );
    expect(html).not.toMatch(/\b(src|href)\s*=\s*["']?(https?:)?\/\//i);
    expect(html).not.toContain("'unsafe-inline'");
    // Exactly two script elements: the JSON data and the renderer; no payload can open or close one.
    expect(html.match(/<script/gi)).toHaveLength(2);
    expect(html.match(/<\/script>/gi)).toHaveLength(2);
    expect(html).not.toContain('<img');
    expect(html).not.toContain('\u2028');
    // Literal credentials in the config snapshot are redacted.
    expect(html).not.toContain('sk-test-should-not-appear');
  });

  it('renders the summary, the charts and the drill-down, with no network and no console errors', async () => {
    const { page, observed } = await openReport(context, file);
    // ASR bars: 2 targets x 2 attack variants x 2 judges, each a non-empty bar with CI whiskers.
    expect(await page.locator('#asr-chart rect.bar').count()).toBe(8);
    expect(await page.locator('#asr-chart line.whisker').count()).toBe(24);
    const widths = await page
      .locator('#asr-chart rect.bar')
      .evaluateAll((els) => els.map((e) => Number(e.getAttribute('width'))));
    expect(widths.some((w) => w > 50)).toBe(true);
    // Refusal-position curves: one polyline of 100 points per target x attack group with refusals.
    const curves = await page
      .locator('#position-chart polyline')
      .evaluateAll((els) => els.map((e) => (e.getAttribute('points') ?? '').split(' ').length));
    expect(curves.length).toBe(4);
    expect(curves.every((n) => n === 100)).toBe(true);
    // Kappa matrix: 2 judges -> 4 cells.
    expect(await page.locator('#kappa-chart rect.cell').count()).toBe(4);
    const box = await page.locator('#asr-chart').boundingBox();
    expect(box && box.width > 300 && box.height > 100).toBe(true);
    // The summary table and the per-category table are filled.
    expect(await page.locator('#summary tbody tr').count()).toBe(8);
    expect(await page.locator('#categories tbody tr').count()).toBeGreaterThan(8);
    // The case list: all 96 cases, first page of 50.
    await expect.poll(() => page.locator('#case-list details.case').count()).toBe(50);
    expect(await page.locator('#cases .page-info').textContent()).toContain(`96 of 96 cases`);

    const shot = path.join(dir, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(20_000);
    expect(readFileSync(shot).subarray(1, 4).toString()).toBe('PNG');

    expect(observed.pageErrors).toEqual([]);
    expect(observed.console.filter((m) => m.type === 'error' || m.type === 'warning')).toEqual([]);
    expect(observed.blockedRequests).toEqual([]);
    await page.close();
  });

  it('shows hostile output literally and runs none of it', async () => {
    const { page, observed } = await openReport(context, file);
    await page.fill('#case-search', 'pwned-script');
    await expect.poll(() => page.locator('#case-list details.case').count()).toBe(24); // 6 PAYLOAD goals x 2 attack variants x 2 targets
    const first = page.locator('#case-list details.case').first();
    await first.locator('summary').click();
    const response = await first.locator('pre.response').first().textContent();
    expect(response).toBe(PAYLOAD_RESPONSE);
    // Open every matching case, and the strict judge's reasons with their payloads.
    // String bodies: the tsconfig has no DOM lib, and these run in the page anyway.
    await page.evaluate(
      "document.querySelectorAll('#case-list details.case').forEach((d) => { d.open = true; })",
    );
    await expect.poll(() => page.locator('#case-list details.case[data-built]').count()).toBe(24);
    const pageText = (await page.locator('body').textContent()) ?? '';
    expect(pageText).toContain('<img src=x onerror="window.__pwned=\'reason\'">');
    expect(pageText).toContain(HOSTILE_LABEL);
    expect(pageText).toContain('<script>window.__pwned="goal"</script>');
    expect(await page.title()).toContain('<script>window.__pwned="name"</script>');

    expect(await page.evaluate('typeof window.__pwned')).toBe('undefined');
    expect(await page.locator('img, iframe, textarea').count()).toBe(0);
    expect(await page.locator('script').count()).toBe(2);
    expect(await page.locator('svg[onload], [onerror]').count()).toBe(0);
    expect(observed.dialogs).toEqual([]);
    expect(observed.pageErrors).toEqual([]);
    expect(observed.console.filter((m) => m.type === 'error')).toEqual([]);
    expect(observed.blockedRequests).toEqual([]);
    await page.close();
  });

  it('filters cases by target, attack and verdict', async () => {
    const { page } = await openReport(context, file);
    await page.selectOption('#case-target', HOSTILE_LABEL);
    await expect.poll(() => page.locator('#cases .page-info').textContent()).toContain('48 of 96');
    await page.selectOption('#case-verdict', 'late');
    // The trained target refuses late only on LATE goals (6 goals x 2 attack variants).
    await expect.poll(() => page.locator('#cases .page-info').textContent()).toContain('12 of 96');
    await page.selectOption('#case-verdict', 'disagree');
    await expect.poll(() => page.locator('#cases .page-info').textContent()).toContain('12 of 96');
    await page.close();
  });

  it('stays responsive with 10,000 cases: one page rendered, search over all of them', async () => {
    const big = writeSyntheticRun(path.join(dir, 'big.db'), 10_000);
    const out = path.join(dir, 'big.html');
    const res = await runCli(['report', big.runId, '--db', big.db, '--format', 'html', '--out', out]);
    expect(res.code).toBe(0);
    const { page, observed } = await openReport(context, out);
    expect(await page.locator('#cases .page-info').textContent()).toContain(
      '10000 of 10000 cases · page 1 / 200',
    );
    expect(await page.locator('#case-list details.case').count()).toBe(50);
    await page.click('#cases .pager button:has-text("next")');
    await expect.poll(() => page.locator('#cases .page-info').textContent()).toContain('page 2 / 200');
    expect(await page.locator('#case-list details.case').count()).toBe(50);
    expect(await page.locator('#case-list .case-no').first().textContent()).toBe('#51');
    await page.fill('#case-search', 'needle-7777');
    await expect.poll(() => page.locator('#cases .page-info').textContent()).toContain('1 of 10000');
    await page.locator('#case-list details.case summary').first().click();
    expect(await page.locator('#case-list pre.response').first().textContent()).toContain('needle-7777');
    expect(observed.pageErrors).toEqual([]);
    await page.close();
  });
});
