import { test, expect } from '@playwright/test';
import { PASSWORD, codeIn, enterCredentials, enterEmailedCode, fillRegistration, hydrated, linkIn, noAxeViolations, registerAndVerify, signIn, uniqueEmail, waitForMail } from './helpers';

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

    test('E4: opening the verification link changes nothing until its button is pressed; E1: until then sign-in answers like a wrong password', async ({ page }) => {
      const email = uniqueEmail(js ? 'e4-js' : 'e4-nojs');
      await fillRegistration(page, email, js);
      await page.getByRole('button', { name: 'Create account' }).click();
      await expect(page.getByRole('heading', { name: 'Check your email' })).toBeVisible();
      const link = linkIn(await waitForMail(page.request, email, /Verify your email/));
      // A mail scanner (or a curious click) only reads the page.
      await page.goto(link);
      await expect(page.getByRole('heading', { name: 'Verify your email' })).toBeVisible();
      await expect(page.getByText(`An account for ${email} was registered on`)).toBeVisible();
      await expect(page.getByText('with the name Ada Lovelace')).toBeVisible();
      if (js) await noAxeViolations(page);
      await enterCredentials(page, email, js);
      await expect(page.getByText('Email or password is incorrect. Registered recently? Confirm your email first')).toBeVisible();
      // The owner confirms; now the same password leads on to the emailed code.
      await page.goto(link);
      if (js) await hydrated(page);
      await page.getByRole('button', { name: 'Verify my email' }).click();
      await expect(page.getByText('Your email is verified')).toBeVisible();
      const before = await enterCredentials(page, email, js);
      await enterEmailedCode(page, email, before);
      await expect(page).toHaveURL(/\/profile$/);
      // A used link shows nothing to confirm.
      await page.goto(link);
      await expect(page.getByText('This verification link is invalid, was already used or has expired.')).toBeVisible();
    });

    test('Y4: a password far over any limit is refused in words, and the step is kept', async ({ page }) => {
      const email = uniqueEmail(js ? 'huge-js' : 'huge-nojs');
      await page.goto('/login');
      if (js) await hydrated(page);
      await page.getByLabel('Email').fill(email);
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByLabel('Password', { exact: true }).fill('x'.repeat(200 * 1024));
      await page.getByRole('button', { name: 'Sign in' }).click();
      // Forms are plain POSTs with or without JavaScript: the refusal is a readable page.
      await expect(page.getByRole('heading', { name: 'That was too much to send' })).toBeVisible();
      await expect(page.getByText('Nothing was saved.')).toBeVisible();
      // Back on the sign-in page, the password step is still there.
      await page.goBack();
      await page.reload();
      await expect(page.getByText(email)).toBeVisible();
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
        // A code is a secret: the server never echoes it back, so the field comes back empty.
        await expect(page.getByLabel('Verification code')).toHaveValue('');
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
