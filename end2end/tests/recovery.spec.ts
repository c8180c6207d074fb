import { test, expect } from '@playwright/test';
import {
  PASSWORD, codeIn, hydrated, linkIn, mailCount, noAxeViolations, registerAndVerify, registerWithSms, signIn, signOut,
  smsCount, uniqueEmail, uniquePhone, waitForMail, waitForSms,
} from './helpers';

const NEW_PASSWORD = 'harbour-lamp-58';
const ANSWER = 'If an account exists for that email, we have sent instructions. The link expires in 30 minutes.';

for (const js of [true, false]) {
  test.describe(js ? 'with JavaScript' : 'without JavaScript', () => {
    test.use({ javaScriptEnabled: js });

    test('F1–F5: forgot password from the sign-in page, reset by email link, then sign in with MFA', async ({ page }) => {
      const email = uniqueEmail(js ? 'forgot-js' : 'forgot-nojs');
      await registerAndVerify(page, email, js);

      await page.goto('/login');
      if (js) await hydrated(page);
      await page.getByRole('textbox', { name: 'Email' }).fill(email);
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByRole('link', { name: 'Forgot password?' }).click();
      await expect(page).toHaveURL(/\/forgot-password$/);
      if (js) await hydrated(page);
      await expect(page.getByRole('textbox', { name: 'Email' })).toHaveValue(email);
      if (js) await noAxeViolations(page);
      await page.getByRole('button', { name: 'Continue' }).click();
      await expect(page.getByText(ANSWER)).toBeVisible();

      // F1: an unknown address gets the very same answer.
      await page.getByRole('textbox', { name: 'Email' }).fill(`nobody-${email}`);
      await page.getByRole('button', { name: 'Continue' }).click();
      await expect(page.getByText(ANSWER)).toBeVisible();
      await expect(page.getByRole('textbox', { name: 'Email' })).toHaveValue(`nobody-${email}`);

      const mail = await waitForMail(page.request, email, /Reset your password/);
      await page.goto(linkIn(mail));
      // F4: the token is gone from the address bar.
      await expect(page).toHaveURL(/\/reset-password$/);
      if (js) await hydrated(page);
      await expect(page.getByRole('heading', { name: 'Choose a new password' })).toBeVisible();
      if (js) await noAxeViolations(page);
      await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
      await page.getByLabel('Confirm new password').fill('not-the-same-1');
      await page.getByRole('button', { name: 'Reset My Password' }).click();
      await expect(page.getByText('The passwords do not match.')).toBeVisible();
      await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
      await page.getByLabel('Confirm new password').fill(NEW_PASSWORD);
      await page.getByRole('button', { name: 'Reset My Password' }).click();
      await expect(page.getByText('Your password has been reset.')).toBeVisible();
      await waitForMail(page.request, email, /Your password was changed/);

      // F5: not signed in; the new password leads to the code step (MFA still asked). The
      // sign-in flow started before "Forgot password?" still knows the email.
      await page.getByRole('link', { name: 'Sign in' }).click();
      await expect(page).toHaveURL(/\/login$/);
      if (js) await hydrated(page);
      const before = await mailCount(page.request, email, /sign-in code/);
      await expect(page.getByRole('heading', { name: 'Enter your password' })).toBeVisible();
      await expect(page.getByText(email)).toBeVisible();
      await page.getByLabel('Password', { exact: true }).fill(NEW_PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect(page.getByRole('heading', { name: 'Check your email' })).toBeVisible();
      const code = codeIn(await waitForMail(page.request, email, /sign-in code/, before));
      await page.getByLabel('Verification code').fill(code);
      await page.getByRole('button', { name: 'Verify' }).click();
      await expect(page).toHaveURL(/\/profile$/);

      // F2: the used link no longer works.
      await page.goto(linkIn(mail));
      await expect(page.getByText('invalid, was already used or has expired')).toBeVisible();
    });

    test('P7/S6: change the password on the Security tab; the other session ends', async ({ page, browser }) => {
      const email = uniqueEmail(js ? 'change-js' : 'change-nojs');
      await registerAndVerify(page, email, js);
      const other = await browser.newContext({ javaScriptEnabled: js });
      const otherPage = await other.newPage();
      await signIn(otherPage, email, js);
      await signIn(page, email, js);

      await page.getByRole('tab', { name: 'Security' }).click();
      if (js) await hydrated(page);
      await page.getByLabel('Current password').fill('not-my-password');
      await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
      await page.getByLabel('Confirm new password').fill(NEW_PASSWORD);
      await page.getByRole('button', { name: 'Change password' }).click();
      await expect(page.getByText('Your current password is not correct.')).toBeVisible();
      await expect(page.getByLabel('Current password')).toHaveValue('');

      await page.getByLabel('Current password').fill(PASSWORD);
      await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
      await page.getByLabel('Confirm new password').fill(NEW_PASSWORD);
      await page.getByRole('button', { name: 'Change password' }).click();
      await expect(page.getByText('Your password was changed. Every other session was signed out.')).toBeVisible();
      if (js) await noAxeViolations(page);
      await waitForMail(page.request, email, /Your password was changed/);

      // S6: the other browser is signed out; this one is not.
      await otherPage.goto('/profile');
      await expect(otherPage).toHaveURL(/\/login$/);
      await page.goto('/profile');
      await expect(page.getByRole('heading', { name: 'Your account' })).toBeVisible();
      await other.close();
    });

    test('F6/F7: forgot password by SMS code — Code, Continue, new password, Proceed', async ({ page }) => {
      const email = uniqueEmail(js ? 'smsreset-js' : 'smsreset-nojs');
      const phone = uniquePhone();
      await registerWithSms(page, email, phone, js);
      await signOut(page, 'Ada Lovelace');

      await page.goto('/forgot-password');
      if (js) await hydrated(page);
      await page.getByRole('textbox', { name: 'Email' }).fill(email);
      const group = page.getByRole('group', { name: 'Recovery method' });
      await expect(group.getByRole('radio', { name: 'Email link' })).toBeChecked();
      await group.getByRole('radio', { name: 'SMS code' }).check();
      const before = await smsCount(page.request, phone.e164, /code is/);
      await page.getByRole('button', { name: 'Continue' }).click();
      await expect(page.getByText('If an account with a verified phone exists for that email')).toBeVisible();
      if (js) await noAxeViolations(page);
      const sms = await waitForSms(page.request, phone.e164, /code is/, before);
      const code = codeIn(sms);
      await page.getByLabel('Code', { exact: true }).fill(code === '000000' ? '111111' : '000000');
      await page.getByRole('button', { name: 'Continue' }).click();
      await expect(page.getByText('That code is not correct or can no longer be used.')).toBeVisible();
      await page.getByLabel('Code', { exact: true }).fill(code);
      await page.getByRole('button', { name: 'Continue' }).click();

      await expect(page.getByRole('heading', { name: 'Choose a new password' })).toBeVisible();
      if (js) await noAxeViolations(page);
      await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
      await page.getByLabel('Confirm new password').fill(NEW_PASSWORD);
      await page.getByRole('button', { name: 'Proceed' }).click();
      await expect(page.getByText('Your password has been reset.')).toBeVisible();
      await page.getByRole('link', { name: 'Sign in' }).click();
      await expect(page).toHaveURL(/\/login$/);
    });

    test('F8: Send reset password link from the Security tab names the channel and shows the expiry', async ({ page }) => {
      const email = uniqueEmail(js ? 'f8-js' : 'f8-nojs');
      await registerAndVerify(page, email, js);
      await signIn(page, email, js);
      await page.getByRole('tab', { name: 'Security' }).click();
      if (js) await hydrated(page);
      await page.getByRole('button', { name: 'Send reset password link' }).click();
      await expect(page.getByText(/We sent a reset link by email to .+@example\.com\. It expires in 30 minutes\./)).toBeVisible();
      await expect(page.getByText(/Reset link sent at .* UTC; it expires at .* UTC\./)).toBeVisible();
      const mail = await waitForMail(page.request, email, /Reset your password/);
      await page.goto(linkIn(mail));
      await expect(page.getByRole('heading', { name: 'Choose a new password' })).toBeVisible();
    });
  });
}
