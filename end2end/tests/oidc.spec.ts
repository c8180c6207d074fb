import { test, expect, type Page } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import {
  PASSWORD, codeIn, gatehouseCli, hydrated, mailCount, noAxeViolations, registerAndVerify, signOut, uniqueEmail, waitForMail,
} from './helpers';

// Issue 13: Gatehouse as an OpenID Connect provider for a team's own applications. Each
// application here is rp/relying_party.mjs, built on openid-client (a certified library, not
// ours), registered with `gatehouse client create` on the database of the server under test.

const root = path.resolve(__dirname, '..', '..');
const running: ChildProcess[] = [];

test.afterAll(() => {
  for (const p of running) p.kill();
});

async function freePort(): Promise<number> {
  return await new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Registers an application and starts it; returns its address. */
async function application(baseURL: string, name: string, flags: string[]): Promise<string> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const out = gatehouseCli([
    'client', 'create', name, '--redirect-uri', `${url}/cb`, '--post-logout-uri', `${url}/bye`, ...flags,
  ]);
  const id = /client_id=(\S+)/.exec(out)?.[1] as string;
  const secret = /client_secret=(\S+)/.exec(out)?.[1] ?? '-';
  const alg = flags.includes('ES256') ? 'ES256' : 'RS256';
  const rp = spawn('node', [path.join(root, 'end2end', 'rp', 'relying_party.mjs'), String(port), baseURL, id, secret, name, alg], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  running.push(rp);
  await new Promise<void>((resolve, reject) => {
    rp.stdout?.on('data', (d: Buffer) => d.toString().includes('listening') && resolve());
    rp.on('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
  });
  return url;
}

/** At Gatehouse's sign-in page (sent there by an application): email, password, emailed code. */
async function signInAtGatehouse(page: Page, email: string, js: boolean): Promise<void> {
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  if (js) await hydrated(page);
  const before = await mailCount(page.request, email, /sign-in code/);
  await page.getByLabel('Email').fill(email);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const mail = await waitForMail(page.request, email, /sign-in code/, before);
  await page.getByLabel('Verification code').fill(codeIn(mail));
  await page.getByRole('button', { name: 'Verify' }).click();
}

for (const js of [true, false]) {
  test.describe(js ? 'with JavaScript' : 'without JavaScript', () => {
    test.use({ javaScriptEnabled: js });

    test('two applications: sign in once with MFA, the second needs no sign-in, a new name shows, sign-out ends both', async ({ page, baseURL }) => {
      const email = uniqueEmail(js ? 'oidc-js' : 'oidc-nojs');
      await registerAndVerify(page, email, js);
      const wiki = await application(baseURL as string, 'Team wiki', ['--first-party']);
      const chat = await application(baseURL as string, 'Team chat', ['--first-party', '--alg', 'ES256']);

      await page.goto(wiki);
      await page.getByRole('link', { name: 'Sign in with Gatehouse' }).click();
      await signInAtGatehouse(page, email, js);
      // Back at the application (after "Returning to the application", which moves on by itself).
      await expect(page).toHaveURL(new RegExp(`^${wiki}/$`));
      await expect(page.getByRole('heading', { name: 'Team wiki' })).toBeVisible();
      await expect(page.getByText('Signed in as Ada Lovelace')).toBeVisible();

      // Single sign-on: the second application signs the person in without asking anything.
      await page.goto(chat);
      await page.getByRole('link', { name: 'Sign in with Gatehouse' }).click();
      await expect(page).toHaveURL(new RegExp(`^${chat}/$`));
      await expect(page.getByText('Signed in as Ada Lovelace')).toBeVisible();

      // A name changed in Gatehouse shows at the application's next userinfo call.
      await page.goto('/profile/details');
      if (js) await hydrated(page);
      await page.getByLabel('First name').fill('Augusta');
      await page.getByRole('button', { name: 'Save' }).click();
      await expect(page.getByText('Saved. Your name is updated everywhere.')).toBeVisible();
      await page.goto(`${wiki}/refresh`);
      await expect(page.getByText('Signed in as Augusta Lovelace')).toBeVisible();

      // Both applications are listed on the Security tab.
      await page.goto('/profile/security');
      await expect(page.getByRole('heading', { name: 'Applications' })).toBeVisible();
      await expect(page.getByRole('list', { name: 'Applications signed in to' }).getByRole('listitem')).toHaveCount(2);

      // Signing out of Gatehouse ends the session everywhere: both applications lose it.
      await page.goto('/profile');
      if (js) await hydrated(page);
      await signOut(page, 'Augusta Lovelace');
      for (const app of [wiki, chat]) {
        await page.goto(`${app}/refresh`);
        await expect(page.getByRole('alert')).toHaveText('You are signed out');
        await expect(page.getByRole('link', { name: 'Sign in with Gatehouse' })).toBeVisible();
      }
    });

    test('an application posts its forms: sign in by a form POST to authorize, sign out by a form POST to logout', async ({ page, baseURL }) => {
      const email = uniqueEmail(js ? 'oidc-post-js' : 'oidc-post-nojs');
      await registerAndVerify(page, email, js);
      const notes = await application(baseURL as string, 'Team notes', ['--first-party']);

      // O9: authorize answers a form POST from the application's page like its GET.
      await page.goto(`${notes}/login-form`);
      await page.getByRole('button', { name: 'Continue to Gatehouse' }).click();
      await expect(page.getByText('to continue to Team notes')).toBeVisible();
      await signInAtGatehouse(page, email, js);
      await expect(page).toHaveURL(new RegExp(`^${notes}/$`));
      await expect(page.getByText('Signed in as Ada Lovelace')).toBeVisible();

      // O9: logout answers a form POST with the ID token as hint: signed out at once, and back
      // to the post-logout address the application registered, with its state.
      await page.getByRole('button', { name: 'Sign out of Gatehouse' }).click();
      await expect(page).toHaveURL(new RegExp(`^${notes}/bye\\?state=rp-state$`));
      await expect(page.getByRole('status')).toHaveText('You are signed out of Gatehouse');
      await page.goto('/profile');
      await expect(page).toHaveURL(/\/login$/);
    });

    test('a third-party application asks first: Deny tells it no, Allow lets it in, Remove access takes it back', async ({ page, baseURL }) => {
      const email = uniqueEmail(js ? 'consent-js' : 'consent-nojs');
      await registerAndVerify(page, email, js);
      const shop = await application(baseURL as string, 'Print shop', []);

      await page.goto(shop);
      await page.getByRole('link', { name: 'Sign in with Gatehouse' }).click();
      await signInAtGatehouse(page, email, js);
      await expect(page.getByRole('heading', { name: 'Allow Print shop to use your account?' })).toBeVisible();
      await expect(page.getByText('Your name and profile picture')).toBeVisible();
      await expect(page.getByText('Your email address')).toBeVisible();
      if (js) await noAxeViolations(page);
      await page.getByRole('button', { name: 'Deny' }).click();
      await expect(page).toHaveURL(new RegExp(`^${shop}/$`));
      await expect(page.getByRole('alert')).toHaveText('Sign-in failed: access_denied');

      // Asked again (nothing was granted); Allow.
      await page.getByRole('link', { name: 'Sign in with Gatehouse' }).click();
      await page.getByRole('button', { name: 'Allow' }).click();
      await expect(page.getByText('Signed in as Ada Lovelace')).toBeVisible();

      // Remembered: the next sign-in goes straight through.
      await page.getByRole('link', { name: 'Refresh profile' }).click();
      await expect(page.getByText('Signed in as Ada Lovelace')).toBeVisible();

      // Remove access on the Security tab: the application's token stops working.
      await page.goto('/profile/security');
      if (js) await hydrated(page);
      const row = page.getByRole('list', { name: 'Applications signed in to' }).getByRole('listitem').filter({ hasText: 'Print shop' });
      await row.getByRole('button', { name: 'Remove access' }).click();
      await expect(page.getByText('The application no longer has access. It will ask again.')).toBeVisible();
      if (js) await noAxeViolations(page);
      await page.goto(`${shop}/refresh`);
      await expect(page.getByRole('alert')).toHaveText('You are signed out');
    });
  });
}
