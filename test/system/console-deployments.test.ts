import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { BROWSER_SKIP, checkA11y, cspViolations, DESKTOP, launchBrowser, openConsole, PHONE, screenshot, type TestBrowser } from '../helpers/browser.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { call, createDeployment, SERVERLESS_FAST, until } from '../helpers/serverless.js';
import { ONE_STORE } from '../helpers/stores.js';

/** A number the page shows in the element with this test id. */
const shown = async (page: Page, testId: string): Promise<number> => Number((await page.getByTestId(testId).textContent()) ?? 'NaN');

/**
 * The Overview and Deployments pages in Debian's chromium against a real control plane with real
 * worker processes: requests held while a deployment scales from zero show in the page's queue and
 * workers (pushed: the page does not poll), a drained stop asked for in the page answers every one of them, and the page says so.
 */
for (const ts of ONE_STORE)
  describe(`console: overview and deployments in a browser (${ts.name})`, { skip: ts.skip || BROWSER_SKIP }, () => {
    let g: TestGantry;
    let b: TestBrowser;
    before(async () => {
      g = await startTestGantry(ts, { gpus: '4x RTX 4090:24GB', settings: { ...SERVERLESS_FAST, samplerIntervalMs: 500 } });
      b = await launchBrowser();
    });
    after(async () => {
      await b?.close();
      await g?.dispose();
    });

    it('watches a deployment scale under held requests, stops it with drain in the page, and every request is answered', async () => {
      const d = await createDeployment(g, 'web-drain', { min_load: 0, max_workers: 1 });
      const page = await (await b.context(DESKTOP)).newPage();
      await openConsole(g, page, g.adminKey as string, `#/deployments/${d.id}`);
      await page.getByRole('heading', { name: 'Deployment web-drain' }).waitFor();
      const sent = 6;
      // Held at the gateway while the first worker starts, then in flight for seconds each.
      // Each one lasts long enough for the stop to find it in flight on busy cores, where the page's
      // steps after the last check below took seconds.
      const callers = Array.from({ length: sent }, (_, i) => call(g, 'web-drain', `/d?ms=8000&i=${i}`));
      await until('the page shows requests queued while it scales', async () => (await shown(page, 'queue')) > 0);
      await page.getByRole('button', { name: 'Stop…' }).click();
      const dialog = page.getByRole('dialog', { name: 'Stop deployment web-drain' });
      assert.equal(await dialog.getByLabel(/Drain:/).isChecked(), true, 'drain is the default');
      await dialog.getByLabel('Drain timeout (seconds)').fill('60');
      // The page behind the open dialog keeps counting.
      await until('the page shows a ready worker', async () => /ready/.test((await page.getByTestId('workers').textContent()) ?? ''));
      await until('the page shows every request held', async () => (await shown(page, 'queue')) + (await shown(page, 'in-flight')) === sent);
      await dialog.getByRole('button', { name: 'Stop' }).click();
      const answers = await Promise.all(callers);
      assert.deepEqual(
        answers.map((r) => r.status),
        Array(sent).fill(200),
        'every caller answered',
      );
      await page.getByTestId('stop-outcome').waitFor({ timeout: 30_000 });
      assert.equal(await shown(page, 'stop-answered'), sent, 'the page counts every answered request');
      assert.equal(await shown(page, 'stop-failed'), 0);
      assert.ok((await page.getByRole('table', { name: 'Autoscaler decisions' }).locator('tbody tr').count()) >= 1, 'the scale-up is shown with its reason');
      await checkA11y(page, 'a deployment, desktop');
      await page.context().close();
    });

    it("another id shows that id only (a missing one: its error, no other's data or buttons); a deployment deleted elsewhere leaves the list and its page", async () => {
      const first = await createDeployment(g, 'web-first', { min_load: 0, max_workers: 1 });
      const second = await createDeployment(g, 'web-second', { min_load: 0, max_workers: 1 });
      const page = await (await b.context(DESKTOP)).newPage();
      await openConsole(g, page, g.adminKey as string, `#/deployments/${first.id}`);
      await page.getByRole('button', { name: 'Delete…' }).waitFor();
      await page.evaluate(() => void ((globalThis as unknown as { location: { hash: string } }).location.hash = '#/deployments/99999'));
      await page.getByRole('alert').getByText('No deployment with id 99999.').waitFor();
      assert.equal((await page.getByRole('heading', { level: 1 }).textContent())?.trim(), 'Deployment 99999');
      assert.equal(await page.getByRole('button', { name: /^(Stop…|Start|Delete…)$/ }).count(), 0, "no buttons acting on another id's deployment");
      assert.equal(await page.getByText('web-first').count(), 0, 'nothing of the last deployment');
      await page.evaluate((id) => void ((globalThis as unknown as { location: { hash: string } }).location.hash = `#/deployments/${id}`), second.id);
      await page.getByRole('heading', { name: 'Deployment web-second' }).waitFor();
      assert.equal(await page.getByRole('alert').count(), 0, "the missing id's error is gone");

      // Deleted over the Vast API while the page and the list (another tab) show it: both are told.
      const list = await (await b.context(DESKTOP)).newPage();
      await openConsole(g, list, g.adminKey as string, '#/deployments');
      await list.getByRole('link', { name: 'web-second' }).waitFor();
      const del = await g.api('DELETE', `/api/v0/deployment/${second.id}`);
      assert.equal(del.status, 200, del.text);
      await page.getByTestId('deployment-gone').waitFor({ timeout: 30_000 });
      assert.equal(await page.getByRole('button', { name: /^(Stop…|Start|Delete…)$/ }).count(), 0);
      await list.getByRole('link', { name: 'web-second' }).waitFor({ state: 'detached', timeout: 30_000 });
      await page.context().close();
      await list.context().close();
    });

    for (const [label, viewport] of [
      ['desktop', DESKTOP],
      ['phone', PHONE],
    ] as const) {
      it(`Overview and Deployments pass axe at ${label} size, with screenshots`, async () => {
        const page = await (await b.context(viewport)).newPage();
        const csp = cspViolations(page);
        await openConsole(g, page, g.adminKey as string, '#/overview');
        await page.getByRole('heading', { name: 'Balance' }).waitFor();
        await page.locator('figure.chart').first().waitFor();
        await checkA11y(page, `Overview, ${label}`);
        if (label === 'desktop') await screenshot(page, 'overview');
        await page.goto(`${g.url}/console/#/deployments`);
        await page.getByRole('link', { name: 'web-drain' }).waitFor();
        await checkA11y(page, `Deployments, ${label}`);
        if (label === 'desktop') await screenshot(page, 'deployments');
        assert.deepEqual(csp, [], 'the pages, their charts and the event stream work within the console CSP');
        await page.context().close();
      });
    }
  });
