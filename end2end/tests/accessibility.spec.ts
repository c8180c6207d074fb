import { test, expect } from '@playwright/test';
import { PASSWORD, codeIn, hydrated, noAxeViolations, registerAndVerify, uniqueEmail, waitForMail } from './helpers';

test('axe finds no violations on any page or sign-in step', async ({ page }) => {
  await page.goto('/register');
  await hydrated(page);
  await noAxeViolations(page);
  await page.goto('/dev/gallery');
  await hydrated(page);
  await noAxeViolations(page);

  const email = uniqueEmail('axe');
  await registerAndVerify(page, email, true);
  await noAxeViolations(page);
  await page.getByLabel('Email').fill(email);
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page.getByLabel('Password', { exact: true })).toBeVisible();
  await noAxeViolations(page);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByLabel('Verification code')).toBeVisible();
  await noAxeViolations(page);
  const code = codeIn(await waitForMail(page.request, email, /sign-in code/));
  await page.getByLabel('Verification code').fill(code);
  await page.getByRole('button', { name: 'Verify' }).click();
  await expect(page.getByRole('heading', { name: 'Your account' })).toBeVisible();
  await noAxeViolations(page);
  await page.goto('/no-such-page');
  await noAxeViolations(page);
});
