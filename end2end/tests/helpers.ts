import { expect, type Page, type APIRequestContext } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

export const PASSWORD = 'tulip-rain-77';

export function uniqueEmail(tag: string): string {
  return `${tag}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
}

type Mail = { channel: string; to: string; subject: string; text: string; created_at: string };

/** Waits for the newest message to `to` whose subject matches, from the dev mailbox. */
export async function waitForMail(request: APIRequestContext, to: string, subject: RegExp, after = 0): Promise<Mail> {
  let found: Mail | undefined;
  await expect
    .poll(
      async () => {
        const res = await request.get('/dev/mailbox.json');
        const all = (await res.json()) as Mail[];
        const mine = all.filter((m) => m.to === to && subject.test(m.subject));
        found = mine.length > after ? mine[0] : undefined;
        return found !== undefined;
      },
      { timeout: 15_000 },
    )
    .toBe(true);
  return found as Mail;
}

export async function mailCount(request: APIRequestContext, to: string, subject: RegExp): Promise<number> {
  const res = await request.get('/dev/mailbox.json');
  return ((await res.json()) as Mail[]).filter((m) => m.to === to && subject.test(m.subject)).length;
}

export function linkIn(mail: Mail): string {
  const m = mail.text.match(/https?:\/\/\S+/);
  if (!m) throw new Error(`no link in ${mail.subject}`);
  return m[0];
}

export function codeIn(mail: Mail): string {
  const m = mail.text.match(/\b(\d{6})\b/);
  if (!m) throw new Error(`no code in ${mail.subject}`);
  return m[1];
}

/** With JavaScript on, waits until the page's islands are awake (`none` on a page without islands, which never loads the WASM). */
export async function hydrated(page: Page): Promise<void> {
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', /^(true|none)$/);
}

export async function noAxeViolations(page: Page): Promise<void> {
  const results = await new AxeBuilder({ page }).analyze();
  const summary = results.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(summary).toEqual([]);
}

/** Registers through the form and follows the verification link. */
/** Opens /register and fills in Ada Lovelace with `email` and the test password. */
export async function fillRegistration(page: Page, email: string, js: boolean): Promise<void> {
  await page.goto('/register');
  if (js) await hydrated(page);
  await page.getByRole('textbox', { name: 'Email' }).fill(email);
  await page.getByLabel('First name').fill('Ada');
  await page.getByLabel('Last name').fill('Lovelace');
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('Confirm password').fill(PASSWORD);
}

/** Registers through the form (email codes) and verifies the address. */
export async function registerAndVerify(page: Page, email: string, js: boolean): Promise<void> {
  await fillRegistration(page, email, js);
  await expect(page.getByRole('radio', { name: 'Email' })).toBeChecked();
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('heading', { name: 'Check your email' })).toBeVisible();
  await verifyEmail(page, email, js);
}

/** E4: the emailed link opens a page that says who registered; only its button verifies. */
export async function verifyEmail(page: Page, email: string, js: boolean, name = 'Ada Lovelace'): Promise<void> {
  const mail = await waitForMail(page.request, email, /Verify your email/);
  await page.goto(linkIn(mail));
  if (js) await hydrated(page);
  await expect(page.getByRole('heading', { name: 'Verify your email' })).toBeVisible();
  await expect(page.getByText(`with the name ${name}`)).toBeVisible();
  await expect(page.getByText('If you did not create this account, do not verify it')).toBeVisible();
  await page.getByRole('button', { name: 'Verify my email' }).click();
  await expect(page).toHaveURL(/\/login\?verify=ok$/);
  await expect(page.getByText('Your email is verified')).toBeVisible();
}

/** M13: at the code step, the code emailed to `email` (the factor active now). */
export async function enterEmailedCode(page: Page, email: string, before: number): Promise<void> {
  await expect(page.getByRole('heading', { name: 'Check your email' })).toBeVisible();
  const mail = await waitForMail(page.request, email, /sign-in code/, before);
  await page.getByLabel('Verification code').fill(codeIn(mail));
  await page.getByRole('button', { name: 'Verify' }).click();
}

/** Email → Continue → password → Sign in. Returns how many code mails `email` had before. */
export async function enterCredentials(page: Page, email: string, js: boolean, password = PASSWORD): Promise<number> {
  await page.goto('/login');
  if (js) await hydrated(page);
  const before = await mailCount(page.request, email, /sign-in code/);
  await page.getByLabel('Email').fill(email);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  return before;
}

/** Email → password → emailed code → signed in. */
export async function signIn(page: Page, email: string, js: boolean): Promise<void> {
  const before = await enterCredentials(page, email, js);
  await enterEmailedCode(page, email, before);
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByRole('heading', { name: 'Your account' })).toBeVisible();
}

/** A phone number no other test uses (R4 caps sends per number), typed the way people do. */
export function uniquePhone(): { typed: string; e164: string } {
  const n = String(Math.floor(Math.random() * 1e7)).padStart(7, '0');
  return { typed: `+1 555 ${n.slice(0, 3)} ${n.slice(3)}`, e164: `+1555${n}` };
}

/** Waits for the newest text message to `to` (E.164) matching `text`, from the dev mailbox. */
export async function waitForSms(request: APIRequestContext, to: string, text: RegExp, after = 0): Promise<Mail> {
  let found: Mail | undefined;
  await expect
    .poll(
      async () => {
        const res = await request.get('/dev/mailbox.json');
        const mine = ((await res.json()) as Mail[]).filter((m) => m.channel === 'sms' && m.to === to && text.test(m.text));
        found = mine.length > after ? mine[0] : undefined;
        return found !== undefined;
      },
      { timeout: 15_000 },
    )
    .toBe(true);
  return found as Mail;
}

export async function smsCount(request: APIRequestContext, to: string, text: RegExp): Promise<number> {
  const res = await request.get('/dev/mailbox.json');
  return ((await res.json()) as Mail[]).filter((m) => m.channel === 'sms' && m.to === to && text.test(m.text)).length;
}

/** Signed in: the top bar menu → Sign out. */
export async function signOut(page: Page, name: string): Promise<void> {
  await page.getByRole('button', { name }).click();
  await page.getByRole('menuitem', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
}

/** Registers with text messages and signs in once, which verifies the phone (M9). */
export async function registerWithSms(page: Page, email: string, phone: { typed: string; e164: string }, js: boolean): Promise<void> {
  await fillRegistration(page, email, js);
  await page.getByRole('radio', { name: 'Text message (SMS)' }).check();
  await page.getByLabel('Phone').fill(phone.typed);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('heading', { name: 'Check your email' })).toBeVisible();
  await verifyEmail(page, email, js);
  // E4/M13: the emailed code first; then the first text message verifies the number.
  await enterEmailedCode(page, email, await enterCredentials(page, email, js));
  await expect(page.getByRole('heading', { name: 'Check your phone' })).toBeVisible();
  await page.getByLabel('Verification code').fill(codeIn(await waitForSms(page.request, phone.e164, /code is/)));
  await page.getByRole('button', { name: 'Verify' }).click();
  await expect(page).toHaveURL(/\/profile$/);
}

/** The server's time in ms (dev mode: `/dev/clock`, which can be moved forward). */
export async function serverNow(request: APIRequestContext): Promise<number> {
  const res = await request.get('/dev/clock');
  return ((await res.json()) as { now: number }).now * 1000;
}

/** Dev mode: moves the server's clock forward. */
export async function advanceClock(request: APIRequestContext, seconds: number): Promise<void> {
  const res = await request.post(`/dev/clock?advance=${seconds}`);
  expect(res.status()).toBe(200);
}

/**
 * Runs the `gatehouse` command line (the release build) on the database of the server under
 * test, named by E2E_DATABASE_URL (.ci/test sets it); returns what it printed.
 */
export function gatehouseCli(args: string[]): string {
  const dbUrl = process.env.E2E_DATABASE_URL;
  if (!dbUrl) throw new Error('E2E_DATABASE_URL must name the database of the server under test (.ci/test sets it)');
  const root = path.resolve(__dirname, '..', '..');
  return execFileSync(path.join(root, 'target', 'release', 'gatehouse'), args, {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: dbUrl },
    encoding: 'utf8',
  });
}
