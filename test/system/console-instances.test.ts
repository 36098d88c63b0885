import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { BROWSER_SKIP, checkA11y, cspViolations, DESKTOP, launchBrowser, openConsole, PHONE, screenshot, type TestBrowser } from '../helpers/browser.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { ONE_STORE } from '../helpers/stores.js';

/** Polls `fn` until it holds (a fact, not a sleep), failing after `timeoutMs`. */
async function until(fn: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The highest `tick-N` the log viewer shows. */
async function lastTick(page: Page): Promise<number> {
  const text = (await page.locator('pre.log').textContent()) ?? '';
  return Math.max(0, ...[...text.matchAll(/tick-(\d+)/g)].map((m) => Number(m[1])));
}

/**
 * Whether the character at `a` of the element's text is drawn left of the one at `b` (their boxes as
 * laid out): a right-to-left override that leaks out of a label reverses the words after it.
 */
async function drawnLeftOf(page: Page, selector: string, a: number, b: number): Promise<boolean> {
  return page.evaluate(
    ([sel, i, j]) => {
      type Box = { left: number };
      type Text = { data: string };
      const g = globalThis as unknown as {
        document: {
          querySelector(s: string): unknown;
          createTreeWalker(root: unknown, what: number): { nextNode(): Text | null };
          createRange(): { setStart(n: Text, o: number): void; setEnd(n: Text, o: number): void; getBoundingClientRect(): Box };
        };
      };
      const root = g.document.querySelector(sel);
      const at = (k: number): Box => {
        const walk = g.document.createTreeWalker(root, 4);
        for (let n = walk.nextNode(), seen = 0; n !== null; seen += n.data.length, n = walk.nextNode()) {
          if (k < seen + n.data.length) {
            const r = g.document.createRange();
            r.setStart(n, k - seen);
            r.setEnd(n, k - seen + 1);
            return r.getBoundingClientRect();
          }
        }
        throw new Error(`no character ${k} in ${sel}`);
      };
      return at(i).left < at(j).left;
    },
    [selector, a, b] as const,
  );
}

/** The same document as before (no reload): the mark set on the page's window is still there. */
const sameDocument = async (page: Page): Promise<boolean> => (await page.evaluate(() => (globalThis as { __mark?: string }).__mark)) === 'kept';

/**
 * The console's Instances page in Debian's chromium against a real server with the local process
 * runtime: rent from an offers search, see the instance run without a reload, follow its log, stop,
 * start and destroy it; what a read-only key and a key without instance rights are offered; axe-core
 * on every view at a desktop and a phone viewport; screenshots as test artifacts.
 */
for (const ts of ONE_STORE) {
  describe(`the console's Instances page (${ts.name})`, { skip: BROWSER_SKIP || ts.skip }, () => {
    let g: TestGantry;
    let b: TestBrowser;
    let alice: string;

    before(async () => {
      [g, b] = await Promise.all([startTestGantry(ts), launchBrowser()]);
      const u = await g.api('POST', '/api/v0/users/', { username: 'alice', credit: 100 });
      assert.equal(u.status, 200, u.text);
      alice = u.body.api_key as string;
    });
    after(async () => {
      await b?.close();
      await g?.dispose();
    });

    it('rents from an offers search, shows it running without a reload, follows its log, stops, starts and destroys it', async () => {
      const page = await (await b.context(DESKTOP)).newPage();
      const csp = cspViolations(page);
      await openConsole(g, page, alice, '#/instances');
      await page.getByText('Live updates on').waitFor();
      await page.evaluate(() => void ((globalThis as { __mark?: string }).__mark = 'kept'));
      await checkA11y(page, 'instances (empty)');

      await page.getByLabel('Offer query').fill('num_gpus=1');
      await page.getByRole('button', { name: 'Search offers' }).click();
      const choose = page.getByRole('button', { name: /^Choose offer/ }).first();
      const offer = (await choose.getAttribute('aria-label')) ?? '';
      await choose.click();
      await page.getByLabel('Disk (GB)').fill('-5');
      await page.getByText('the price shows once it is').waitFor();
      assert.equal(await page.getByLabel('Price preview').count(), 0, 'no price for a disk the form would refuse');
      await page.getByLabel('Command (run on start)').fill('for i in $(seq 1 3000); do echo tick-$i; sleep 0.2; done');
      await page.getByLabel('Label', { exact: true }).fill('console-test');
      await page.getByLabel('Disk (GB)').fill('10');
      const preview = page.getByLabel('Price preview');
      await preview.getByText('Storage (10 GB)').waitFor();
      assert.match((await preview.textContent()) ?? '', /Total\$\d+\.\d{4} per hour/);
      await checkA11y(page, 'rent form with price preview');
      await screenshot(page, 'instances-rent');
      await page.getByRole('button', { name: /^Rent offer/ }).click();

      const row = page.locator('tbody tr', { hasText: 'console-test' });
      await row.locator('[data-status="running"]').waitFor({ timeout: 30_000 });
      // The offers are read again after the rental: a machine one already rents on is not offered (rented=false).
      await until(async () => (await page.getByRole('button', { name: offer, exact: true }).count()) === 0, 'the offers read again');
      assert.ok(await sameDocument(page), 'the status arrived without a reload');
      await checkA11y(page, 'instances (running)');
      await screenshot(page, 'instances');

      await row.getByRole('button', { name: /^Logs instance/ }).click();
      await until(async () => (await lastTick(page)) > 0, 'the first log lines');
      const seen = await lastTick(page);
      await until(async () => (await lastTick(page)) > seen + 3, 'new log lines');
      await checkA11y(page, 'log viewer');
      await screenshot(page, 'instances-logs');
      await page.getByRole('button', { name: 'Close logs' }).click();

      assert.equal(await row.getByRole('button', { name: /^Recycle instance/ }).count(), 1, 'a running instance may be recycled');
      await row.getByRole('button', { name: /^Stop instance/ }).click();
      await row.locator('[data-status="stopped"]').waitFor({ timeout: 30_000 });
      // The engine refuses reboot and recycle of a stopped instance ("start it instead"): neither is offered.
      assert.equal(await row.getByRole('button', { name: /^(Recycle|Reboot) instance/ }).count(), 0);
      await row.getByRole('button', { name: /^Start instance/ }).click();
      await row.locator('[data-status="running"]').waitFor({ timeout: 30_000 });

      // Its log stays open while it is destroyed: the viewer then says so and stops asking.
      await row.getByRole('button', { name: /^Logs instance/ }).click();
      await until(async () => (await lastTick(page)) > 0, 'the log lines again');
      await row.getByRole('button', { name: /^Destroy instance/ }).click();
      const dialog = page.getByRole('dialog');
      assert.match((await dialog.textContent()) ?? '', /Destroy instance \d+ \(\u2068console-test\u2069\)\?/);
      await checkA11y(page, 'destroy confirmation');
      await screenshot(page, 'instances-destroy');
      await dialog.getByRole('button', { name: 'Destroy' }).click();
      await row.waitFor({ state: 'detached', timeout: 30_000 });
      await until(async () => await page.getByLabel('Follow new lines').isDisabled(), 'the log viewer to stop following');
      assert.equal(await page.locator('pre.log').count(), 0, 'no stale output beside the error');
      await page.getByRole('button', { name: 'Close logs' }).click();
      assert.ok(await sameDocument(page), 'every change arrived without a reload');
      assert.deepEqual(csp, [], 'renting, logs and actions work within the console CSP');
      await page.context().close();
    });

    it("keeps a label's right-to-left override inside the label, and a 200-character label from pushing the actions off screen", async () => {
      const machine = (await g.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
      const rent = async (label: string): Promise<number> => {
        const r = await g.api('PUT', `/api/v0/asks/${machine * 1000 + 1}/`, { image: 'x', onstart: 'sleep 600', runtype: 'ssh', label }, { key: alice });
        assert.equal(r.status, 200, r.text);
        return r.body.new_contract as number;
      };
      const mirrored = await rent('abc\u202edef');
      const long = 'L'.repeat(200);
      const wide = await rent(long);
      const page = await (await b.context(DESKTOP)).newPage();
      try {
        await openConsole(g, page, alice, '#/instances');
        const row = page.locator(`tr[data-key="${mirrored}"]`);
        await row.waitFor();

        await row.getByRole('button', { name: /^Destroy instance/ }).click();
        // Measured once the dialog is drawn (a hidden one puts every character at 0), within one word (a line
        // may wrap between two).
        await page.getByRole('dialog').waitFor();
        const question = (await page.locator('#confirm-question').textContent()) ?? '';
        const its = question.indexOf('Its processes');
        assert.ok(its > 0, question);
        assert.ok(await drawnLeftOf(page, '#confirm-question', its, its + 2), 'the sentence after the label reads left to right');
        await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
        await row.getByRole('button', { name: /^Logs instance/ }).click();
        await page.locator('#log-title').waitFor();
        const heading = (await page.locator('#log-title').textContent()) ?? '';
        assert.ok(await drawnLeftOf(page, '#log-title', heading.indexOf('def') + 2, heading.lastIndexOf(')')), 'the closing parenthesis stays after the label');
        await page.getByRole('button', { name: 'Close logs' }).click();

        const wideRow = page.locator(`tr[data-key="${wide}"]`);
        assert.equal(await wideRow.locator(`[title="${long}"]`).count(), 1, 'the whole label is its title');
        const destroy = await wideRow.getByRole('button', { name: /^Destroy instance/ }).boundingBox();
        assert.ok(destroy !== null && destroy.x + destroy.width <= DESKTOP.width, `the row's last action is on screen: ${JSON.stringify(destroy)}`);
      } finally {
        await page.context().close();
        // Their GPUs are the next test's, whatever happened here.
        for (const id of [mirrored, wide]) {
          assert.equal((await g.api('DELETE', `/api/v0/instances/${id}/`, undefined, { key: alice })).status, 200);
          await until(
            async () => (await g.api('GET', `/api/v0/instances/${id}/`, undefined, { key: alice })).status === 404,
            `instance ${id} destroyed`,
            30_000,
          );
        }
      }
    });

    it('works at a phone-sized viewport', async () => {
      const rent = await g.api(
        'PUT',
        `/api/v0/asks/${(await g.api('GET', '/api/v0/machines/')).body.machines[0].id * 1000 + 1}/`,
        { image: 'x', onstart: 'sleep 600', runtype: 'ssh', label: 'phone' },
        { key: alice },
      );
      assert.equal(rent.status, 200, rent.text);
      const page = await (await b.context(PHONE)).newPage();
      await page.goto(`${g.url}/console/`);
      await page.getByLabel('API key').waitFor();
      await checkA11y(page, 'login on a phone');
      await screenshot(page, 'login-phone');
      await openConsole(g, page, alice, '#/instances');
      await page.locator('tbody tr', { hasText: 'phone' }).waitFor();
      await checkA11y(page, 'instances on a phone');
      await screenshot(page, 'instances-phone');
      await page.context().close();
    });

    it('a read-only key sees the instances and no action but the log; a key without instance rights has no Instances page', async () => {
      const ro = await g.api('POST', '/api/v0/auth/apikeys/', { name: 'read only', permissions: { api: { instance_read: {} } } }, { key: alice });
      const none = await g.api('POST', '/api/v0/auth/apikeys/', { name: 'billing only', permissions: { api: { billing_read: {} } } }, { key: alice });
      assert.equal(ro.status, 200, ro.text);
      assert.equal(none.status, 200, none.text);

      const page = await (await b.context(DESKTOP)).newPage();
      await page.goto(`${g.url}/console/`);
      await page.getByLabel('API key').fill('not a key');
      await page.getByRole('button', { name: 'Log in' }).click();
      // The API's own message, not a bare status.
      await page.getByRole('alert').getByText('The API key is not valid.').waitFor();
      await checkA11y(page, 'login with an error');
      await openConsole(g, page, ro.body.key as string, '#/instances');
      const row = page.locator('tbody tr', { hasText: 'phone' });
      await row.waitFor();
      assert.deepEqual(await row.getByRole('button').allTextContents(), ['Logs']);
      assert.equal(await page.getByRole('heading', { name: 'Rent an instance' }).count(), 0);
      await checkA11y(page, 'instances, read-only key');

      // The key stays for the tab (a reload needs no login) and logging out forgets it.
      await page.reload();
      await row.waitFor();
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.getByLabel('API key').waitFor();
      assert.equal(await page.evaluate(() => (globalThis as unknown as { sessionStorage: { length: number } }).sessionStorage.length), 0);
      await openConsole(g, page, none.body.key as string);
      const nav = page.getByRole('navigation', { name: 'Console pages' });
      assert.equal(await nav.getByRole('link', { name: 'Instances' }).count(), 0);
      await page.goto(`${g.url}/console/#/instances`);
      await page.getByRole('button', { name: 'Log out' }).waitFor();
      assert.equal(await page.getByRole('heading', { name: 'Instances' }).count(), 0);
      await checkA11y(page, 'console, key without instance rights');
      await page.context().close();
    });
  });
}
