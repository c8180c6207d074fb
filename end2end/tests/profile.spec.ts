import { test, expect } from '@playwright/test';
import { hydrated, noAxeViolations, registerAndVerify, signIn, uniqueEmail } from './helpers';

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

      // The change shows on the other tabs and in the activity log (G1).
      await page.getByRole('tab', { name: 'Security' }).click();
      await expect(page.getByRole('button', { name: 'Augusta Ada King' })).toBeVisible();
      const events = page.getByRole('list', { name: 'Security events' }).getByRole('listitem');
      await expect(events.first()).toContainText('Name changed');
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
