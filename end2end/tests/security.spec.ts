import { test, expect, type Page } from '@playwright/test';
import {
  PASSWORD, advanceClock, codeIn, enterCredentials, enterEmailedCode, gatehouseCli, hydrated, mailCount, noAxeViolations, registerAndVerify, signIn, signOut,
  smsCount, uniqueEmail, uniquePhone, verifyEmail, waitForMail, waitForSms,
} from './helpers';

async function openSecurityTab(page: Page, js: boolean): Promise<void> {
  await page.getByRole('tab', { name: 'Security' }).click();
  await expect(page).toHaveURL(/\/profile\/security$/);
  if (js) await hydrated(page);
  await expect(page.getByRole('heading', { name: 'How you confirm sign-ins' })).toBeVisible();
}

for (const js of [true, false]) {
  test.describe(js ? 'with JavaScript' : 'without JavaScript', () => {
    test.use({ javaScriptEnabled: js });

    test('M9: register with text messages; the first sign-in code, sent by SMS, verifies the phone', async ({ page }) => {
      const email = uniqueEmail(js ? 'sms-js' : 'sms-nojs');
      const phone = uniquePhone();
      await page.goto('/register');
      if (js) await hydrated(page);
      await page.getByRole('textbox', { name: 'Email' }).fill(email);
      await page.getByLabel('First name').fill('Ada');
      await page.getByLabel('Last name').fill('Lovelace');
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByLabel('Confirm password').fill(PASSWORD);
      const group = page.getByRole('group', { name: 'MFA method' });
      await expect(group.getByRole('radio', { name: 'Email' })).toBeChecked();
      await expect(page.getByLabel('Phone')).toBeHidden();
      await group.getByRole('radio', { name: 'Text message (SMS)' }).check();
      await expect(page.getByText('Messages may cost money, and SMS is weaker than an app')).toBeVisible();
      // A number outside the allowed country codes: told, nothing lost.
      await page.getByLabel('Phone').fill('+882 1234 5678');
      await page.getByRole('button', { name: 'Create account' }).click();
      await expect(page.getByText('Text messages are not available in your area.')).toBeVisible();
      await expect(page.getByLabel('Phone')).toHaveValue('+882 1234 5678');
      await expect(page.getByLabel('First name')).toHaveValue('Ada');
      if (js) await noAxeViolations(page);
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByLabel('Confirm password').fill(PASSWORD);
      await page.getByLabel('Phone').fill(phone.typed);
      await page.getByRole('button', { name: 'Create account' }).click();
      await expect(page.getByRole('heading', { name: 'Check your email' })).toBeVisible();
      await verifyEmail(page, email, js);

      // E4/M13: the emailed code first, then the number given at registration.
      await enterEmailedCode(page, email, await enterCredentials(page, email, js));
      await expect(page.getByRole('heading', { name: 'Check your phone' })).toBeVisible();
      await expect(page.getByText(`by text message to +•••••••${phone.e164.slice(-4)}`)).toBeVisible();
      if (js) await noAxeViolations(page);
      const sms = await waitForSms(page.request, phone.e164, /code is/);
      await page.getByLabel('Verification code').fill(codeIn(sms));
      await page.getByRole('button', { name: 'Verify' }).click();
      await expect(page).toHaveURL(/\/profile$/);
      await expect(page.getByText('By text message')).toBeVisible();

      // F8: the reset link goes by text message to the verified number.
      await openSecurityTab(page, js);
      await page.getByRole('button', { name: 'Send reset password link' }).click();
      await expect(page.getByText(`We sent a reset link by text message to +•••••••${phone.e164.slice(-4)}. It expires in 30 minutes.`)).toBeVisible();
      await expect(page.getByText(/Reset link sent at .* UTC; it expires at .* UTC\./)).toBeVisible();
      const link = await waitForSms(page.request, phone.e164, /reset your password/);
      const url = link.text.match(/https?:\/\/\S+/)?.[0] ?? '';
      await page.goto(url);
      await expect(page).toHaveURL(/\/reset-password$/);
      await expect(page.getByRole('heading', { name: 'Choose a new password' })).toBeVisible();
    });

    test('S5/M7/M4: change the method from the Security tab — to SMS after verifying the phone, then to the authenticator at the next sign-in', async ({ page }) => {
      const email = uniqueEmail(js ? 'sec-js' : 'sec-nojs');
      const phone = uniquePhone();
      await registerAndVerify(page, email, js);
      await signIn(page, email, js);
      await openSecurityTab(page, js);
      await expect(page.getByText('Codes by email to')).toBeVisible();
      await expect(page.getByText('An authenticator app is the strongest choice')).toBeVisible();
      await expect(page.getByRole('tab', { name: 'Security' })).toHaveAttribute('aria-selected', 'true');
      if (js) await noAxeViolations(page);

      const group = page.getByRole('group', { name: 'MFA method' });
      await expect(group.getByRole('radio', { name: 'Email' })).toBeChecked();
      await group.getByRole('radio', { name: 'Text message (SMS)' }).check();
      await page.getByLabel('Phone').fill('555 0100');
      await page.getByRole('button', { name: 'Save' }).click();
      await expect(page.getByText('Enter the number with its country code')).toBeVisible();
      await expect(page.getByLabel('Phone')).toHaveValue('555 0100');
      await expect(group.getByRole('radio', { name: 'Text message (SMS)' })).toBeChecked();

      await page.getByLabel('Phone').fill(phone.typed);
      await page.getByRole('button', { name: 'Save' }).click();
      await expect(page.getByRole('heading', { name: 'Verify your phone' })).toBeVisible();
      if (js) await noAxeViolations(page);
      const sms = await waitForSms(page.request, phone.e164, /code is/);
      const changedBefore = await mailCount(page.request, email, /sign-in method was changed/);
      await page.getByLabel('Verification code').fill(codeIn(sms));
      await page.getByRole('button', { name: 'Verify' }).click();
      await expect(page.getByText('Sign-in codes now come by text message.')).toBeVisible();
      await expect(page.getByText(`Codes by text message to +•••••••${phone.e164.slice(-4)}`)).toBeVisible();
      // M7: the old channel (email) is told.
      await waitForMail(page.request, email, /sign-in method was changed/, changedBefore);

      const smsNotices = await smsCount(page.request, phone.e164, /sign-in method was changed/);
      await group.getByRole('radio', { name: 'Authenticator app' }).check();
      await page.getByRole('button', { name: 'Save' }).click();
      await expect(page.getByText('At your next sign-in you will scan a QR code')).toBeVisible();
      await expect(page.getByText('Authenticator app chosen')).toBeVisible();
      // M7: the old channel is now the phone.
      await waitForSms(page.request, phone.e164, /sign-in method was changed/, smsNotices);

      await signOut(page, 'Ada Lovelace');
      // M13: a code from the method active now (text messages) comes before the QR code.
      const texts = await smsCount(page.request, phone.e164, /code is/);
      await enterCredentials(page, email, js);
      await expect(page.getByRole('heading', { name: 'Check your phone' })).toBeVisible();
      await expect(page.getByRole('img', { name: 'QR code' })).toHaveCount(0);
      await page.getByLabel('Verification code').fill(codeIn(await waitForSms(page.request, phone.e164, /code is/, texts)));
      await page.getByRole('button', { name: 'Verify' }).click();
      await expect(page.getByRole('heading', { name: 'Set up your authenticator app' })).toBeVisible();
      await expect(page.getByRole('img', { name: 'QR code' })).toBeVisible();
    });

    test('S5: ten minutes after sign-in, a change first asks for the password and a code (dev clock moved forward)', async ({ page }) => {
      const email = uniqueEmail(js ? 'reauth-js' : 'reauth-nojs');
      await registerAndVerify(page, email, js);
      await signIn(page, email, js);
      await advanceClock(page.request, 601);
      await openSecurityTab(page, js);
      await expect(page.getByRole('heading', { name: 'Confirm it is you' })).toBeVisible();
      const group = page.getByRole('group', { name: 'MFA method' });
      await group.getByRole('radio', { name: 'Authenticator app' }).check();
      await page.getByRole('button', { name: 'Save' }).click();
      await expect(page.getByText('For your safety, confirm it is you first.')).toBeVisible();
      await expect(group.getByRole('radio', { name: 'Authenticator app' })).toBeChecked();
      if (js) await noAxeViolations(page);

      const before = await mailCount(page.request, email, /sign-in code/);
      await page.getByLabel('Password', { exact: true }).fill('not-my-password');
      await page.getByRole('button', { name: 'Continue' }).click();
      await expect(page.getByText('Email or password is incorrect.')).toBeVisible();
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Continue' }).click();
      await expect(page.getByText(/We sent a six-digit code to/)).toBeVisible();
      const code = codeIn(await waitForMail(page.request, email, /sign-in code/, before));
      await page.getByLabel('Verification code').fill(code);
      await page.getByRole('button', { name: 'Verify' }).click();
      await expect(page.getByText('You can change your security settings for the next 10 minutes.')).toBeVisible();
      await expect(page.getByRole('heading', { name: 'Confirm it is you' })).toHaveCount(0);

      await group.getByRole('radio', { name: 'Authenticator app' }).check();
      await page.getByRole('button', { name: 'Save' }).click();
      await expect(page.getByText('At your next sign-in you will scan a QR code')).toBeVisible();
    });

    test('S4/G1: Active sessions lists the other browser and signs it out; Recent security activity shows the sign-ins', async ({ page, browser }) => {
      const email = uniqueEmail(js ? 'sessions-js' : 'sessions-nojs');
      await registerAndVerify(page, email, js);
      const other = await browser.newContext({ javaScriptEnabled: js });
      const otherPage = await other.newPage();
      await signIn(otherPage, email, js);
      await signIn(page, email, js);
      await openSecurityTab(page, js);

      const sessions = page.getByRole('list', { name: 'Signed-in sessions' }).getByRole('listitem');
      await expect(sessions).toHaveCount(2);
      await expect(sessions.first()).toContainText('This session');
      const events = page.getByRole('list', { name: 'Security events' }).getByRole('listitem');
      await expect(events.first()).toContainText('Signed in');
      await expect(page.getByRole('heading', { name: 'Recent security activity' })).toBeVisible();
      if (js) await noAxeViolations(page);

      await page.getByRole('button', { name: 'Sign out other sessions', exact: true }).click();
      await expect(page.getByText('Signed out 1 other session(s).')).toBeVisible();
      await expect(sessions).toHaveCount(1);
      await otherPage.goto('/profile');
      await expect(otherPage).toHaveURL(/\/login$/);
      await other.close();
    });

    test('M8: support resets the method with the CLI; the person then signs in with an email code', async ({ page }) => {
      const email = uniqueEmail(js ? 'reset-js' : 'reset-nojs');
      await registerAndVerify(page, email, js);
      await signIn(page, email, js);
      await openSecurityTab(page, js);
      await page.getByRole('group', { name: 'MFA method' }).getByRole('radio', { name: 'Authenticator app' }).check();
      await page.getByRole('button', { name: 'Save' }).click();
      await expect(page.getByText('Authenticator app chosen')).toBeVisible();
      await signOut(page, 'Ada Lovelace');

      const out = gatehouseCli(['user', 'reset-mfa', email]);
      expect(out).toContain(email);
      await waitForMail(page.request, email, /sign-in method was reset/);

      await signIn(page, email, js);
      await openSecurityTab(page, js);
      await expect(page.getByText('Codes by email to')).toBeVisible();
      await expect(page.getByText('Authenticator app chosen')).toHaveCount(0);
    });
  });
}
