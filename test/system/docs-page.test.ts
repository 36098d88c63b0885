import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BROWSER_SKIP, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * The API reference page (`/docs`, Swagger UI) runs on the console's origin under a Content-Security-Policy of its
 * own: in Chromium it still renders every dialect's operations, opens one and calls the API with "Try it out",
 * and the browser reports no refusal by the policy.
 */
const ts = TEST_STORES.find((s) => s.name === 'sqlite') ?? TEST_STORES[0];

describe('the API reference page under its policy', { skip: ts?.skip || BROWSER_SKIP, timeout: 120_000 }, () => {
  let g: TestGantry;
  let b: TestBrowser;
  before(async () => {
    g = await startTestGantry(ts!);
    b = await launchBrowser();
  });
  after(async () => {
    await b?.close();
    await g?.dispose();
  });

  it('renders, opens an operation and calls it; no request or script is refused by the policy', async () => {
    const ctx = await b.context();
    const page = await ctx.newPage();
    const refused: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) refused.push(m.text());
    });
    await page.addInitScript({
      content: "document.addEventListener('securitypolicyviolation', (e) => console.error('Refused to (' + e.violatedDirective + ') ' + e.blockedURI));",
    });
    const res = await page.goto(`${g.url}/docs`);
    assert.match(res?.headers()['content-security-policy'] ?? '', /script-src 'self'; script-src-attr 'none'/);
    await page.locator('.opblock-tag', { hasText: 'Vast.ai' }).first().waitFor();
    // The server's own tag: its operations open, and "Try it out" calls this origin.
    const health = page.locator('#operations-Server-get_healthz');
    await page.locator('#operations-tag-Server').click();
    await health.locator('.opblock-summary').click();
    await health.getByRole('button', { name: 'Try it out' }).click();
    await health.getByRole('button', { name: 'Execute' }).click();
    await health.locator('.live-responses-table .response-col_status', { hasText: '200' }).first().waitFor();
    assert.deepEqual(refused, []);
    await ctx.close();
  });
});
