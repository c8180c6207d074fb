// Page weight budgets (performance.md, issue 10): every byte a first visit downloads, by kind,
// as served. The static files are served precompressed (brotli); the HTML is compressed here
// with brotli at quality 11, as a reverse proxy in front of Gatehouse would. "Before any script
// runs" is the HTML and the CSS: the page is fully usable then (every form is a plain POST).
// `.ci/test` runs this spec, so the build fails when the sign-in page passes its budget;
// `.ci/bench` prints the same table (WEIGHT_TABLE names the file it reads).
import { test, expect, type Browser, type Page } from '@playwright/test';
import { brotliCompressSync, constants } from 'node:zlib';
import { appendFileSync } from 'node:fs';
import { hydrated, registerAndVerify, signIn, uniqueEmail } from './helpers';

const KiB = 1024;
const BUDGET = {
  signInTotal: 100 * KiB,
  signInBeforeScripts: 20 * KiB,
  otherTotal: 150 * KiB,
};

type Weight = { html: number; css: number; js: number; wasm: number; other: number; files: string[] };

const total = (w: Weight) => w.html + w.css + w.js + w.wasm + w.other;
const beforeScripts = (w: Weight) => w.html + w.css;

function brotli(body: Buffer): number {
  return brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
}

/** Opens `path` as a first visit (empty cache) and adds up what it downloads, by kind. */
async function weigh(page: Page, path: string): Promise<Weight> {
  const w: Weight = { html: 0, css: 0, js: 0, wasm: 0, other: 0, files: [] };
  const pending: Promise<void>[] = [];
  page.on('response', (res) => {
    pending.push(
      (async () => {
        const url = new URL(res.url());
        w.files.push(url.pathname);
        const type = res.headers()['content-type'] ?? '';
        if (res.request().resourceType() === 'document') {
          w.html += brotli(await res.body());
          return;
        }
        const served = (await res.request().sizes()).responseBodySize;
        if (type.includes('css')) w.css += served;
        else if (url.pathname.endsWith('.wasm')) w.wasm += served;
        else if (type.includes('javascript')) w.js += served;
        else w.other += served;
      })(),
    );
  });
  await page.goto(path);
  await hydrated(page);
  await page.waitForLoadState('networkidle');
  await Promise.all(pending);
  page.removeAllListeners('response');
  return w;
}

/** Runs `setup` in one context, then weighs `path` as a first visit (empty cache) of a second
 * context that carries the first one's cookies (the session `setup` left). */
async function inFreshContext(browser: Browser, setup: (p: Page) => Promise<void>, path: string): Promise<Weight> {
  const before = await browser.newContext();
  await setup(await before.newPage());
  const cookies = await before.cookies();
  await before.close();
  const ctx = await browser.newContext();
  await ctx.addCookies(cookies);
  const w = await weigh(await ctx.newPage(), path);
  await ctx.close();
  return w;
}

function report(path: string, w: Weight): void {
  const k = (n: number) => (n / KiB).toFixed(1);
  const line =
    `${path.padEnd(20)} HTML ${k(w.html)} + CSS ${k(w.css)} + JS ${k(w.js)} + WASM ${k(w.wasm)}` +
    (w.other ? ` + other ${k(w.other)}` : '') +
    ` = ${k(total(w))} KiB brotli (usable before scripts: ${k(beforeScripts(w))} KiB)`;
  console.log(line);
  if (process.env.WEIGHT_TABLE) appendFileSync(process.env.WEIGHT_TABLE, line + '\n');
}

test.describe('page weight', () => {
  // A first visit: nothing cached between the pages.
  test.use({ javaScriptEnabled: true });

  test('the sign-in page stays within 100 KiB in all and 20 KiB before any script runs', async ({ page, browser }) => {
    // The first step has no island, so it never loads the WASM.
    const first = await weigh(page, '/login');
    report('/login', first);
    expect(first.wasm).toBe(0);
    expect(beforeScripts(first)).toBeLessThanOrEqual(BUDGET.signInBeforeScripts);
    expect(total(first)).toBeLessThanOrEqual(BUDGET.signInTotal);
    // The password step wakes the password field's island (show/hide).
    const w = await inFreshContext(browser, async (p) => {
      await p.goto('/login');
      await p.getByLabel('Email').fill(uniqueEmail('weight-login'));
      await p.getByRole('button', { name: 'Continue' }).click();
      await expect(p.getByLabel('Password', { exact: true })).toBeVisible();
    }, '/login');
    report('/login (password)', w);
    expect(w.wasm, 'the islands WASM loads').toBeGreaterThan(0);
    expect(w.files.filter((f) => f.includes('cropper')), 'the avatar cropper never loads here').toEqual([]);
    expect(beforeScripts(w)).toBeLessThanOrEqual(BUDGET.signInBeforeScripts);
    expect(total(w)).toBeLessThanOrEqual(BUDGET.signInTotal);
  });

  for (const path of ['/register', '/forgot-password']) {
    test(`${path} stays within 150 KiB`, async ({ page }) => {
      const w = await weigh(page, path);
      report(path, w);
      expect(total(w)).toBeLessThanOrEqual(BUDGET.otherTotal);
    });
  }

  test('/profile (the Dashboard, with the avatar cropper) stays within 150 KiB', async ({ browser }) => {
    const email = uniqueEmail('weight-dash');
    const w = await inFreshContext(browser, async (p) => {
      await registerAndVerify(p, email, true);
      await signIn(p, email, true);
    }, '/profile');
    report('/profile', w);
    expect(w.files, 'the cropper loads on the Dashboard').toContain('/pkg/cropper_bg.wasm');
    expect(total(w)).toBeLessThanOrEqual(BUDGET.otherTotal);
  });

  test('/profile/security stays within 150 KiB', async ({ browser }) => {
    const email = uniqueEmail('weight');
    const w = await inFreshContext(browser, async (p) => {
      await registerAndVerify(p, email, true);
      await signIn(p, email, true);
    }, '/profile/security');
    report('/profile/security', w);
    expect(total(w)).toBeLessThanOrEqual(BUDGET.otherTotal);
  });
});
