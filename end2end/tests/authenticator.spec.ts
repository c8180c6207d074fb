import { test, expect } from '@playwright/test';
import { PASSWORD, enterCredentials, enterEmailedCode, hydrated, noAxeViolations, serverNow, uniqueEmail, verifyEmail } from './helpers';
import { totp } from './totp';

for (const js of [true, false]) {
  test.describe(js ? 'with JavaScript' : 'without JavaScript', () => {
    test.use({ javaScriptEnabled: js });

    test('M4: register with an authenticator, set it up at the first sign-in, save recovery codes, then sign in with app codes and a recovery code', async ({ page }) => {
      const email = uniqueEmail(js ? 'totp-js' : 'totp-nojs');
      await page.goto('/register');
      if (js) await hydrated(page);
      await page.getByRole('textbox', { name: 'Email' }).fill(email);
      await page.getByLabel('First name').fill('Grace');
      await page.getByLabel('Last name').fill('Hopper');
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByLabel('Confirm password').fill(PASSWORD);
      await page.getByRole('radio', { name: 'Authenticator app' }).check();
      await page.getByRole('button', { name: 'Create account' }).click();
      await expect(page.getByRole('heading', { name: 'Check your email' })).toBeVisible();
      await verifyEmail(page, email, js, 'Grace Hopper');

      // First sign-in (M13): the password alone shows no QR code — first the code emailed to
      // the verified address, then the set-up step.
      const before = await enterCredentials(page, email, js);
      await expect(page.getByRole('img', { name: 'QR code' })).toHaveCount(0);
      await enterEmailedCode(page, email, before);
      await expect(page.getByRole('heading', { name: 'Set up your authenticator app' })).toBeVisible();
      await expect(page.getByRole('img', { name: 'QR code' })).toBeVisible();
      const key = await page.getByLabel('Setup key').inputValue();
      if (js) await noAxeViolations(page);
      expect(key.replace(/\s/g, '')).toHaveLength(32);
      // The server's clock (dev mode can move it forward, see /dev/clock).
      const now = async () => serverNow(page.request);
      await page.getByLabel('Verification code').fill('000000' === totp(key, await now()) ? '111111' : '000000');
      await page.getByRole('button', { name: 'Verify' }).click();
      await expect(page.getByText('That code is not correct.')).toBeVisible();
      const firstCode = totp(key, await now());
      await page.getByLabel('Verification code').fill(firstCode);
      await page.getByRole('button', { name: 'Verify' }).click();

      await expect(page.getByRole('heading', { name: 'Recovery codes' })).toBeVisible();
      const items = page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem');
      await expect(items).toHaveCount(10);
      if (js) await noAxeViolations(page);
      const recovery = (await items.first().innerText()).trim();
      await page.getByRole('button', { name: 'I have saved these codes' }).click();
      await expect(page).toHaveURL(/\/profile$/);
      await page.getByRole('button', { name: 'Grace Hopper' }).click();
      await page.getByRole('menuitem', { name: 'Sign out' }).click();
      await expect(page).toHaveURL(/\/login$/);

      // M3: the code accepted a moment ago is refused (its time step is used up)…
      await enterCredentials(page, email, js);
      await expect(page.getByRole('heading', { name: 'Confirm it is you' })).toBeVisible();
      await page.getByLabel('Verification code').fill(firstCode);
      await page.getByRole('button', { name: 'Verify' }).click();
      await expect(page.getByText('That code was already used.')).toBeVisible();
      if (js) await noAxeViolations(page);

      // … and M6: a recovery code signs in instead, once.
      await page.getByRole('link', { name: 'Use a recovery code' }).click();
      if (js) await noAxeViolations(page);
      await page.getByLabel('Recovery code', { exact: true }).fill(recovery);
      await page.getByRole('button', { name: 'Verify' }).click();
      await expect(page).toHaveURL(/\/profile$/);
      await page.getByRole('button', { name: 'Grace Hopper' }).click();
      await page.getByRole('menuitem', { name: 'Sign out' }).click();
      await expect(page).toHaveURL(/\/login$/);

      // The next step's code (within the ±1 step window) is new, so it is accepted.
      await enterCredentials(page, email, js);
      await page.getByLabel('Verification code').fill(totp(key, (await now()) + 30_000));
      await page.getByRole('button', { name: 'Verify' }).click();
      await expect(page).toHaveURL(/\/profile$/);

      // M6 from the Security tab: 9 codes left, then ten new ones shown once.
      await page.getByRole('tab', { name: 'Security' }).click();
      if (js) await hydrated(page);
      await expect(page.getByText('Codes from your authenticator app.')).toBeVisible();
      await expect(page.getByText('9 of 10 recovery codes left.')).toBeVisible();
      await page.getByRole('button', { name: 'Regenerate recovery codes' }).click();
      const fresh = page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem');
      await expect(fresh).toHaveCount(10);
      if (js) await noAxeViolations(page);
      await page.getByRole('button', { name: 'I have saved these codes' }).click();
      await expect(page.getByText('10 of 10 recovery codes left.')).toBeVisible();
      await page.getByRole('button', { name: 'Grace Hopper' }).click();
      await page.getByRole('menuitem', { name: 'Sign out' }).click();

      // A used recovery code does not work again.
      await enterCredentials(page, email, js);
      await page.getByRole('link', { name: 'Use a recovery code' }).click();
      await page.getByLabel('Recovery code', { exact: true }).fill(recovery);
      await page.getByRole('button', { name: 'Verify' }).click();
      await expect(page.getByText('That recovery code is not correct or was already used.')).toBeVisible();
    });
  });
}
