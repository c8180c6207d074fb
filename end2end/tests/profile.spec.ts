import { test, expect } from '@playwright/test';
import {
  PASSWORD, advanceClock, codeIn, hydrated, noAxeViolations, registerAndVerify, registerWithSms, signIn, smsCount, uniqueEmail, uniquePhone,
  waitForSms,
} from './helpers';

for (const js of [true, false]) {
  test.describe(js ? 'with JavaScript' : 'without JavaScript', () => {
    test.use({ javaScriptEnabled: js });

    test('Profile tab: change the name, see it in the top bar; a bad name keeps what was typed; the email is read-only', async ({ page }) => {
      const email = uniqueEmail(js ? 'profile-js' : 'profile-nojs');
      await registerAndVerify(page, email, js);
      await signIn(page, email, js);

      await page.getByRole('tab', { name: 'Profile' }).click();
      await expect(page).toHaveURL(/\/profile\/details$/);
      if (js) await hydrated(page);
      await expect(page.getByRole('tab', { name: 'Profile' })).toHaveAttribute('aria-selected', 'true');
      await expect(page.getByLabel('First name')).toHaveValue('Ada');
      await expect(page.getByLabel('Last name')).toHaveValue('Lovelace');
      await expect(page.getByText(email, { exact: true })).toBeVisible();
      await expect(page.getByText('To change your email, contact support.')).toBeVisible();
      await expect(page.getByRole('textbox', { name: 'Email' })).toHaveCount(0);
      if (js) await noAxeViolations(page);
      // Hydrated, the names are saved in place: this mark survives only if the page never reloads.
      if (js) await page.evaluate(() => ((window as unknown as { stay: number }).stay = 1));

      // Refused on the server, next to its field; what was typed stays.
      await page.getByLabel('First name').fill('Augusta Ada');
      await page.getByLabel('Last name').fill('   ');
      await page.getByRole('button', { name: 'Save' }).click();
      await expect(page.getByText('Enter your last name.')).toBeVisible();
      await expect(page.getByLabel('Last name')).toHaveAttribute('aria-invalid', 'true');
      await expect(page.getByLabel('First name')).toHaveValue('Augusta Ada');
      await expect(page.getByRole('button', { name: 'Ada Lovelace' })).toBeVisible();

      await page.getByLabel('Last name').fill('  King ');
      await page.getByRole('button', { name: 'Save' }).click();
      await expect(page.getByText('Saved. Your name is updated everywhere.')).toBeVisible();
      await expect(page.getByLabel('Last name')).toHaveValue('King');
      await expect(page.getByRole('button', { name: 'Augusta Ada King' })).toBeVisible();
      await expect(page.getByLabel('Last name')).not.toHaveAttribute('aria-invalid', 'true');
      if (js) expect(await page.evaluate(() => (window as unknown as { stay?: number }).stay)).toBe(1);

      // The change shows on the other tabs and in the activity log (G1).
      await page.getByRole('tab', { name: 'Security' }).click();
      await expect(page.getByRole('button', { name: 'Augusta Ada King' })).toBeVisible();
      const events = page.getByRole('list', { name: 'Security events' }).getByRole('listitem');
      await expect(events.first()).toContainText('Name changed');
    });

    test('Profile tab: with SMS as the method, a new phone needs re-authentication and its own code; the old number is told (S5, M9, M7)', async ({ page }) => {
      const email = uniqueEmail(js ? 'phone-js' : 'phone-nojs');
      const oldPhone = uniquePhone();
      const newPhone = uniquePhone();
      await registerWithSms(page, email, oldPhone, js);
      await page.getByRole('tab', { name: 'Profile' }).click();
      await expect(page).toHaveURL(/\/profile\/details$/);
      await expect(page.getByLabel('Phone')).toHaveValue(oldPhone.e164);

      // S5: ten minutes after the sign-in, the change waits for "Confirm it is you".
      await advanceClock(page.request, 601);
      await page.reload();
      if (js) await hydrated(page);
      await page.getByLabel('Phone').fill(newPhone.typed);
      await page.getByRole('button', { name: 'Save' }).click();
      await expect(page.getByText('For your safety, confirm it is you before changing your phone.')).toBeVisible();
      await expect(page.getByLabel('Phone')).toHaveAttribute('aria-invalid', 'true');
      await expect(page.getByLabel('Phone')).toHaveValue(newPhone.typed);
      await expect(page.getByRole('heading', { name: 'Confirm it is you' })).toBeVisible();
      expect(await smsCount(page.request, newPhone.e164, /code is/)).toBe(0);
      const reauthCodes = await smsCount(page.request, oldPhone.e164, /code is/);
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByLabel('Verification code').fill(codeIn(await waitForSms(page.request, oldPhone.e164, /code is/, reauthCodes)));
      await page.getByRole('button', { name: 'Verify' }).click();
      await expect(page.getByText(/You can change your security settings for the next 10 minutes/)).toBeVisible();
      await expect(page).toHaveURL(/\/profile\/details$/);

      // M9: the new number answers with its own code before it is stored.
      await page.getByLabel('Phone').fill(newPhone.typed);
      await page.getByRole('button', { name: 'Save' }).click();
      await expect(page.getByText(/We sent a code to \+•+\d{4}\. Enter it below/)).toBeVisible();
      await expect(page.getByRole('heading', { name: 'Verify your new phone' })).toBeVisible();
      if (js) await noAxeViolations(page);
      await page.getByLabel('Verification code').fill(codeIn(await waitForSms(page.request, newPhone.e164, /code is/)));
      await page.getByRole('button', { name: 'Verify' }).click();
      await expect(page.getByText(`Your phone number is now +•••••••${newPhone.e164.slice(-4)}.`)).toBeVisible();
      await expect(page.getByLabel('Phone')).toHaveValue(newPhone.e164);
      // M7: the old number hears of it.
      await waitForSms(page.request, oldPhone.e164, /removed from your account/);

      await page.getByRole('tab', { name: 'Security' }).click();
      await expect(page.getByText(`Codes by text message to +•••••••${newPhone.e164.slice(-4)}.`)).toBeVisible();
      const events = page.getByRole('list', { name: 'Security events' }).getByRole('listitem');
      await expect(events.first()).toContainText('Phone number changed');
    });

    if (js) {
      test('the three profile tabs move with the arrow keys', async ({ page }) => {
        const email = uniqueEmail('profile-tabs');
        await registerAndVerify(page, email, js);
        await signIn(page, email, js);
        await hydrated(page);
        const dashboard = page.getByRole('tab', { name: 'Dashboard' });
        await dashboard.focus();
        await page.keyboard.press('ArrowRight');
        await expect(page.getByRole('tab', { name: 'Profile' })).toBeFocused();
        await page.keyboard.press('ArrowRight');
        await expect(page.getByRole('tab', { name: 'Security' })).toBeFocused();
        await page.keyboard.press('ArrowRight');
        await expect(dashboard).toBeFocused();
      });
    }
  });
}
