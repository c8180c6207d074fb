import { test, expect } from '@playwright/test';
import {
  PASSWORD, advanceClock, codeIn, gatehouseCli, hydrated, mailCount, noAxeViolations, registerAndVerify, signIn, uniqueEmail, waitForMail,
} from './helpers';

// Issue 14: the support console (`/support`, instance role `support` given with
// `gatehouse user grant-support EMAIL`): find a person, see their activity, rescue them.

for (const js of [true, false]) {
  test.describe(js ? 'with JavaScript' : 'without JavaScript', () => {
    test.use({ javaScriptEnabled: js });

    test('support finds a person and, after confirming it is them, unlocks, resets MFA to email and starts an email change; the person is told', async ({ page, browser }) => {
      const sue = uniqueEmail(js ? 'support-js' : 'support-nojs');
      const ada = uniqueEmail(js ? 'rescued-js' : 'rescued-nojs');
      const other = await browser.newContext({ javaScriptEnabled: js });
      const p2 = await other.newPage();
      await registerAndVerify(p2, ada, js);
      await signIn(p2, ada, js);
      // Without the role, the console does not exist.
      expect((await p2.goto('/support'))?.status()).toBe(404);
      await expect(p2.getByRole('heading', { name: 'Page not found' })).toBeVisible();

      await registerAndVerify(page, sue, js);
      await signIn(page, sue, js);
      expect(gatehouseCli(['user', 'grant-support', sue])).toContain('may now open the support console');
      await page.goto('/support');
      if (js) await hydrated(page);
      await expect(page.getByRole('heading', { name: 'Support', level: 1 })).toBeVisible();
      if (js) await noAxeViolations(page);
      await page.getByRole('textbox', { name: 'Email' }).fill('nobody-here@example.com');
      await page.getByRole('button', { name: 'Find' }).click();
      await expect(page.getByText('No account uses that email address.')).toBeVisible();
      await page.getByRole('textbox', { name: 'Email' }).fill(ada);
      await page.getByRole('button', { name: 'Find' }).click();
      await expect(page.getByRole('heading', { name: 'Recent security activity' })).toBeVisible();
      await expect(page.getByRole('list', { name: 'Security events' })).toContainText('Signed in');

      // S5: ten minutes on, every action first needs "Confirm it is you".
      await advanceClock(page.request, 601);
      await page.reload();
      await expect(page.getByRole('heading', { name: 'Confirm it is you' })).toBeVisible();
      await expect(page.getByRole('button', { name: 'Unlock account' })).toHaveCount(0);
      const before = await mailCount(page.request, sue, /sign-in code/);
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Continue' }).click();
      const code = codeIn(await waitForMail(page.request, sue, /sign-in code/, before));
      await page.getByLabel('Verification code').fill(code);
      await page.getByRole('button', { name: 'Verify' }).click();
      await expect(page.getByText('You can change your security settings for the next 10 minutes.')).toBeVisible();
      await expect(page.getByText(ada, { exact: true })).toBeVisible();
      if (js) await noAxeViolations(page);

      await page.getByRole('button', { name: 'Unlock account' }).click();
      await expect(page.getByText('Done: they can sign in again. They were told by email.')).toBeVisible();
      await waitForMail(page.request, ada, /Your account was unlocked/);
      await page.getByRole('button', { name: 'Reset MFA to email' }).click();
      await expect(page.getByText('Done: their sign-in codes now come by email.')).toBeVisible();
      await waitForMail(page.request, ada, /Your sign-in method was reset/);
      await page.getByLabel('New email').fill('not an address');
      await page.getByRole('button', { name: 'Change email' }).click();
      await expect(page.getByLabel('New email')).toHaveValue('not an address');
      const newAddress = uniqueEmail('moved');
      await page.getByLabel('New email').fill(newAddress);
      await page.getByRole('button', { name: 'Change email' }).click();
      await expect(page.getByText('Started: a confirmation link went to the new address')).toBeVisible();
      await waitForMail(page.request, newAddress, /Confirm your new email address/);
      await waitForMail(page.request, ada, /A change of your email address was requested/);

      // The person's activity names the support person (G1).
      await p2.goto('/profile/security');
      const events = p2.getByRole('list', { name: 'Security events' });
      await expect(events).toContainText(`Sign-in unlocked by support (by Ada Lovelace (${sue}))`);
      await expect(events).toContainText(`Sign-in method reset by support (by Ada Lovelace (${sue}))`);
      await expect(events).toContainText(`Support started a change of your email address (by Ada Lovelace (${sue}))`);
      await other.close();
    });
  });
}
