import { test, expect } from '@playwright/test';
import { PASSWORD, codeIn, enterCredentials, hydrated, registerAndVerify, signIn, uniqueEmail, waitForMail } from './helpers';

for (const js of [true, false]) {
  test.describe(js ? 'with JavaScript' : 'without JavaScript', () => {
    test.use({ javaScriptEnabled: js });

    test('register, verify the email, sign in with the emailed code, sign out', async ({ page }) => {
      const email = uniqueEmail(js ? 'js' : 'nojs');
      await registerAndVerify(page, email, js);
      await signIn(page, email, js);
      await expect(page.getByRole('heading', { name: 'Welcome, Ada' })).toBeVisible();
      await page.getByRole('button', { name: 'Ada Lovelace' }).click();
      await expect(page.getByRole('menuitem', { name: 'My Profile' })).toBeVisible();
      await page.getByRole('menuitem', { name: 'Sign out' }).click();
      await expect(page).toHaveURL(/\/login$/);
      await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
      // S4: the server session is gone, so the profile sends us back to sign-in.
      await page.goto('/profile');
      await expect(page).toHaveURL(/\/login$/);
    });

    test('E2: a wrong password gets the generic message and the email is kept', async ({ page }) => {
      const email = uniqueEmail('wrongpw');
      await registerAndVerify(page, email, js);
      await enterCredentials(page, email, js, 'not-the-password');
      await expect(page.getByText('Email or password is incorrect.')).toBeVisible();
      await expect(page.getByText(email)).toBeVisible();
      await expect(page.getByLabel('Password', { exact: true })).toHaveValue('');
      // An unknown address gets exactly the same answer.
      await page.getByRole('button', { name: 'Use another email' }).click();
      await page.getByLabel('Email').fill(uniqueEmail('nobody'));
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect(page.getByText('Email or password is incorrect.')).toBeVisible();
    });

    test('R3: five wrong codes end the challenge', async ({ page }) => {
      const email = uniqueEmail('wrongcode');
      await registerAndVerify(page, email, js);
      const before = await enterCredentials(page, email, js);
      const good = codeIn(await waitForMail(page.request, email, /sign-in code/, before));
      const bad = good === '000000' ? '111111' : '000000';
      for (const left of [4, 3, 2, 1]) {
        await page.getByLabel('Verification code').fill(bad);
        await page.getByRole('button', { name: 'Verify' }).click();
        await expect(page.getByText(`That code is not correct. ${left} attempt(s) left.`)).toBeVisible();
        await expect(page.getByLabel('Verification code')).toHaveValue(bad);
      }
      await page.getByLabel('Verification code').fill(bad);
      await page.getByRole('button', { name: 'Verify' }).click();
      await expect(page.getByText('This code can no longer be used.')).toBeVisible();
      await page.getByLabel('Verification code').fill(good);
      await page.getByRole('button', { name: 'Verify' }).click();
      await expect(page.getByText('This code can no longer be used.')).toBeVisible();
      await expect(page).toHaveURL(/\/login$/);
    });

    test('registration errors appear next to their fields and keep what was typed', async ({ page }) => {
      await page.goto('/register');
      if (js) await hydrated(page);
      await page.getByRole('textbox', { name: 'Email' }).fill('ada@example');
      await page.getByLabel('First name').fill('Ada');
      await page.getByLabel('Last name').fill('Lovelace');
      await page.getByLabel('Password', { exact: true }).fill('short');
      await page.getByLabel('Confirm password').fill('short');
      await page.getByRole('button', { name: 'Create account' }).click();
      await expect(page.getByText('Enter an email address like name@example.com.')).toBeVisible();
      await expect(page.getByText('Use at least 8 characters.')).toBeVisible();
      await expect(page.getByRole('textbox', { name: 'Email' })).toHaveValue('ada@example');
      await expect(page.getByLabel('First name')).toHaveValue('Ada');
      await expect(page.getByLabel('Password', { exact: true })).toHaveValue('');
    });
  });
}
