import { test, expect, type Browser, type Page } from '@playwright/test';
import {
  PASSWORD, advanceClock, codeIn, hydrated, linkIn, mailCount, noAxeViolations, registerAndVerify, registerWithSms, signIn, signOut, smsCount,
  uniqueEmail, uniquePhone, verifyEmail, waitForMail,
} from './helpers';

/** A name no other test uses, and the slug Gatehouse makes of it. */
function uniqueOrg(tag: string): { name: string; slug: string } {
  const n = `${tag} ${Date.now() % 1e8} ${Math.floor(Math.random() * 1e4)}`;
  return { name: n, slug: n.toLowerCase().replace(/[^a-z0-9]+/g, '-') };
}

/** Creates an organization from /orgs; lands on its Members tab. */
async function createOrg(page: Page, name: string, js: boolean): Promise<void> {
  await page.goto('/orgs');
  if (js) await hydrated(page);
  await expect(page.getByRole('heading', { name: 'Organizations', level: 1 })).toBeVisible();
  await page.getByLabel('Name').fill(name);
  await page.getByRole('button', { name: 'Create organization' }).click();
  await expect(page.getByRole('heading', { name, level: 1 })).toBeVisible();
  await expect(page.getByText(`${name} is created. You are its owner.`)).toBeVisible();
}

/** From the organization's page: Invitations tab → Email, Role → Send invitation. */
async function invite(page: Page, email: string, role: 'Admin' | 'Member'): Promise<void> {
  await page.getByRole('tab', { name: 'Invitations' }).click();
  await expect(page.getByRole('tab', { name: 'Invitations' })).toHaveAttribute('aria-selected', 'true');
  await page.getByRole('textbox', { name: 'Email' }).fill(email);
  await page.getByLabel('Role').selectOption({ label: role });
  await page.getByRole('button', { name: 'Send invitation' }).click();
  await expect(page.getByText(`Invitation sent to ${email}.`)).toBeVisible();
  await expect(page.getByRole('row', { name: new RegExp(email) })).toContainText('Pending');
}

/** The Members table's row of `email`. */
function row(page: Page, email: string) {
  return page.getByRole('row', { name: new RegExp(email) });
}

/** A second person in their own browser, registered and signed in. */
async function colleague(browser: Browser, email: string, js: boolean): Promise<Page> {
  const ctx = await browser.newContext({ javaScriptEnabled: js });
  const p = await ctx.newPage();
  await registerAndVerify(p, email, js);
  await signIn(p, email, js);
  return p;
}

for (const js of [true, false]) {
  test.describe(js ? 'with JavaScript' : 'without JavaScript', () => {
    test.use({ javaScriptEnabled: js });

    test('create an organization, invite a colleague who accepts from the Dashboard, the role applies, hand ownership over (S5)', async ({ page, browser }) => {
      const owner = uniqueEmail(js ? 'org-owner-js' : 'org-owner-nojs');
      const mate = uniqueEmail(js ? 'org-mate-js' : 'org-mate-nojs');
      const org = uniqueOrg(js ? 'Acme JS' : 'Acme Plain');
      await registerAndVerify(page, owner, js);
      await signIn(page, owner, js);
      await page.goto('/orgs');
      if (js) await noAxeViolations(page);
      await createOrg(page, org.name, js);
      await expect(page).toHaveURL(new RegExp(`/orgs/${org.slug}$`));
      await expect(row(page, owner).getByLabel('Role')).toHaveValue('owner');
      if (js) await noAxeViolations(page);

      await invite(page, mate, 'Admin');
      if (js) await noAxeViolations(page);
      const mail = await waitForMail(page.request, mate, /^Invitation to an organization on Gatehouse$/);
      expect(mail.text).toContain(`Organization name (as its owner typed it): "${org.name}"`);
      expect(mail.text).toContain('Role: Admin');

      // The colleague signs in: the invitation waits on the Dashboard.
      const p2 = await colleague(browser, mate, js);
      const waiting = p2.getByRole('list', { name: 'Invitations waiting' });
      await expect(waiting.getByRole('listitem')).toContainText(org.name);
      if (js) await noAxeViolations(p2);
      await waiting.getByRole('button', { name: 'Accept' }).click();
      await expect(p2).toHaveURL(new RegExp(`/orgs/${org.slug}$`));
      await expect(p2.getByText(`Welcome to ${org.name}. Your role: Admin.`)).toBeVisible();
      // The role applies: an admin manages invitations and settings.
      await expect(p2.getByRole('tab', { name: 'Invitations' })).toBeVisible();
      await expect(p2.getByRole('tab', { name: 'Settings' })).toBeVisible();
      // The organization is in the top-bar menu.
      await p2.getByRole('button', { name: 'Ada Lovelace' }).click();
      await expect(p2.getByRole('menuitem', { name: org.name })).toBeVisible();
      await expect(p2.getByRole('menuitem', { name: 'Organizations' })).toBeVisible();

      // Ownership changes hands after "Confirm it is you" (the sign-in is 10 minutes old).
      await advanceClock(page.request, 601);
      await page.getByRole('tab', { name: 'Members' }).click();
      await expect(row(page, mate).getByLabel('Role')).toHaveValue('admin');
      const section = page.getByRole('region', { name: 'Transfer ownership' });
      await expect(section.getByRole('heading', { name: 'Confirm it is you' })).toBeVisible();
      const before = await mailCount(page.request, owner, /sign-in code/);
      await section.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await section.getByRole('button', { name: 'Continue' }).click();
      const code = codeIn(await waitForMail(page.request, owner, /sign-in code/, before));
      await page.getByLabel('Verification code').fill(code);
      await page.getByRole('button', { name: 'Verify' }).click();
      await expect(page.getByText('You can change your security settings for the next 10 minutes.')).toBeVisible();
      await page.getByLabel('New owner').selectOption({ label: `Ada Lovelace (${mate})` });
      await page.getByRole('button', { name: 'Transfer ownership' }).click();
      await expect(page.getByText('Ownership is handed over. You are now an admin')).toBeVisible();
      await expect(row(page, owner).getByLabel('Role')).toHaveValue('admin');
      // An admin cannot change an owner: the new owner's role is plain text.
      await expect(row(page, mate).getByLabel('Role')).toHaveCount(0);
      await expect(row(page, mate)).toContainText('Owner');
      await waitForMail(page.request, mate, new RegExp(`^Ownership of ${org.name} changed`));
      await waitForMail(page.request, owner, new RegExp(`^Ownership of ${org.name} changed`));

      // G1: the new owner's activity log says so, naming the organization and who did it.
      await p2.goto('/profile/security');
      const events = p2.getByRole('list', { name: 'Security events' }).getByRole('listitem');
      await expect(events.first()).toContainText(`Became an owner of an organization: ${org.name} (by Ada Lovelace (${owner}))`);
      await p2.context().close();
    });

    test('invitations: decline, expiry (dev clock), resend kills the old link, revoke', async ({ page, browser }) => {
      const owner = uniqueEmail(js ? 'inv-owner-js' : 'inv-owner-nojs');
      const dora = uniqueEmail(js ? 'inv-dora-js' : 'inv-dora-nojs');
      const eve = uniqueEmail(js ? 'inv-eve-js' : 'inv-eve-nojs');
      const org = uniqueOrg(js ? 'Invites JS' : 'Invites Plain');
      await registerAndVerify(page, owner, js);
      await signIn(page, owner, js);
      await createOrg(page, org.name, js);
      await invite(page, dora, 'Member');
      await invite(page, eve, 'Member');

      // Dora declines from her Dashboard.
      const p2 = await colleague(browser, dora, js);
      await p2.getByRole('list', { name: 'Invitations waiting' }).getByRole('button', { name: 'Decline' }).click();
      await expect(p2.getByText(`You declined the invitation to ${org.name}.`)).toBeVisible();
      await expect(p2.getByText('No invitations waiting')).toBeVisible();
      await p2.context().close();

      // Eve's expires after seven days.
      const oldLink = linkIn(await waitForMail(page.request, eve, /^Invitation to an organization/));
      await advanceClock(page.request, 7 * 86400 + 1);
      await page.goto(oldLink);
      await expect(page.getByText('This invitation is expired. Ask for a new one if you still want to join.')).toBeVisible();
      await signIn(page, owner, js);
      await page.goto(`/orgs/${org.slug}/invitations`);
      await expect(page.getByRole('row', { name: new RegExp(dora) })).toContainText('Declined');
      const eveRow = page.getByRole('row', { name: new RegExp(eve) });
      await expect(eveRow).toContainText('Expired');

      // Resend: a new link; the old one no longer works.
      const sent = await mailCount(page.request, eve, /^Invitation to an organization/);
      await eveRow.getByRole('button', { name: 'Resend' }).click();
      await expect(page.getByText(`A new invitation is on its way to ${eve}. The earlier link no longer works.`)).toBeVisible();
      await expect(page.getByRole('row', { name: new RegExp(eve) })).toContainText('Pending');
      const newLink = linkIn(await waitForMail(page.request, eve, /^Invitation to an organization/, sent));
      expect(newLink).not.toEqual(oldLink);
      await page.goto(oldLink);
      await expect(page.getByText('This invitation link does not work')).toBeVisible();
      await page.goto(newLink);
      await expect(page.getByRole('heading', { name: `Join ${org.name}` })).toBeVisible();
      await expect(page.getByText('You are signed in with another address.')).toBeVisible();
      if (js) await noAxeViolations(page);

      // Revoke: the link says so.
      await page.goto(`/orgs/${org.slug}/invitations`);
      await page.getByRole('row', { name: new RegExp(eve) }).getByRole('button', { name: 'Revoke' }).click();
      await expect(page.getByText('The invitation is revoked; its link no longer works.')).toBeVisible();
      await expect(page.getByRole('row', { name: new RegExp(eve) })).toContainText('Revoked');
      await expect(page.getByRole('row', { name: new RegExp(eve) }).getByRole('button')).toHaveCount(0);
      await page.goto(newLink);
      await expect(page.getByText('This invitation is revoked.')).toBeVisible();
    });

    test('a new person registers through the invitation link and lands in the organization', async ({ page, browser }) => {
      const owner = uniqueEmail(js ? 'newcomer-owner-js' : 'newcomer-owner-nojs');
      const newcomer = uniqueEmail(js ? 'newcomer-js' : 'newcomer-nojs');
      const org = uniqueOrg(js ? 'Newcomers JS' : 'Newcomers Plain');
      await registerAndVerify(page, owner, js);
      await signIn(page, owner, js);
      await createOrg(page, org.name, js);
      await invite(page, newcomer, 'Member');

      const ctx = await browser.newContext({ javaScriptEnabled: js });
      const p2 = await ctx.newPage();
      await p2.goto(linkIn(await waitForMail(page.request, newcomer, /^Invitation to an organization/)));
      if (js) await hydrated(p2);
      await expect(p2.getByText(`Ada Lovelace invited ${newcomer} to join ${org.name} as Member.`)).toBeVisible();
      if (js) await noAxeViolations(p2);
      await p2.getByRole('link', { name: 'Create account' }).click();
      await expect(p2.getByText('You were invited to an organization')).toBeVisible();
      await expect(p2.getByRole('textbox', { name: 'Email' })).toHaveValue(newcomer);
      await p2.getByLabel('First name').fill('Nina');
      await p2.getByLabel('Last name').fill('New');
      await p2.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await p2.getByLabel('Confirm password').fill(PASSWORD);
      await p2.getByRole('button', { name: 'Create account' }).click();
      await expect(p2.getByRole('heading', { name: 'Check your email' })).toBeVisible();
      await verifyEmail(p2, newcomer, js, 'Nina New');
      await signIn(p2, newcomer, js);
      await p2.goto('/orgs');
      await p2.getByRole('link', { name: org.name }).click();
      await expect(p2.getByRole('row', { name: new RegExp(newcomer) })).toContainText('Member');
      await ctx.close();
      await page.goto(`/orgs/${org.slug}/invitations`);
      await expect(page.getByRole('row', { name: new RegExp(newcomer) })).toContainText('Accepted');
    });

    test('F7: the organization\'s recovery methods decide what /forgot-password delivers; members cannot reach the settings', async ({ page, browser }) => {
      const owner = uniqueEmail(js ? 'rules-owner-js' : 'rules-owner-nojs');
      const member = uniqueEmail(js ? 'rules-member-js' : 'rules-member-nojs');
      const phone = uniquePhone();
      const org = uniqueOrg(js ? 'Rules JS' : 'Rules Plain');
      await registerAndVerify(page, owner, js);
      await signIn(page, owner, js);
      await createOrg(page, org.name, js);
      await invite(page, member, 'Member');

      const ctx = await browser.newContext({ javaScriptEnabled: js });
      const p2 = await ctx.newPage();
      await registerWithSms(p2, member, phone, js);
      await p2.getByRole('list', { name: 'Invitations waiting' }).getByRole('button', { name: 'Accept' }).click();
      await expect(p2.getByText(`Welcome to ${org.name}. Your role: Member.`)).toBeVisible();
      // A member has no Settings tab, and the address answers 404.
      await expect(p2.getByRole('tab', { name: 'Settings' })).toHaveCount(0);
      const denied = await p2.goto(`/orgs/${org.slug}/settings`);
      expect(denied?.status()).toBe(404);

      // The owner allows only the email link.
      await page.getByRole('tab', { name: 'Settings' }).click();
      if (js) await noAxeViolations(page);
      const recovery = page.getByRole('group', { name: 'Recovery methods' });
      await recovery.getByRole('checkbox', { name: 'Email link' }).uncheck();
      await recovery.getByRole('checkbox', { name: 'SMS code' }).uncheck();
      await page.getByRole('button', { name: 'Save' }).click();
      await expect(page.getByText('Keep at least one recovery method.')).toBeVisible();
      await expect(page.getByRole('group', { name: 'Recovery methods' }).getByRole('checkbox', { name: 'SMS code' })).not.toBeChecked();
      await page.getByRole('group', { name: 'Recovery methods' }).getByRole('checkbox', { name: 'Email link' }).check();
      await page.getByRole('button', { name: 'Save' }).click();
      await expect(page.getByText('The rules are saved.')).toBeVisible();
      await expect(page.getByRole('group', { name: 'Recovery methods' }).getByRole('checkbox', { name: 'Email link' })).toBeChecked();
      await expect(page.getByRole('group', { name: 'Recovery methods' }).getByRole('checkbox', { name: 'SMS code' })).not.toBeChecked();

      // The member asks for a code by text message: none comes; an email says what is allowed.
      await p2.goto('/profile');
      await signOut(p2, 'Ada Lovelace');
      await p2.goto('/forgot-password');
      await p2.getByRole('textbox', { name: 'Email' }).fill(member);
      await p2.getByRole('group', { name: 'Recovery method' }).getByRole('radio', { name: 'SMS code' }).check();
      const texts = await smsCount(p2.request, phone.e164, /code is/);
      const mails = await mailCount(p2.request, member, /Your password reset request/);
      await p2.getByRole('button', { name: 'Continue' }).click();
      await expect(p2.getByText('If an account with a verified phone exists for that email')).toBeVisible();
      const notice = await waitForMail(p2.request, member, /Your password reset request/, mails);
      expect(notice.text).toContain(`${org.name} allows only a link by email`);
      expect(await smsCount(p2.request, phone.e164, /code is/)).toBe(texts);
      await ctx.close();
    });
  });
}
