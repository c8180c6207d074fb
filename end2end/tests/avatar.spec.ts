import { test, expect, type Page } from '@playwright/test';
import { hydrated, noAxeViolations, registerAndVerify, signIn, uniqueEmail } from './helpers';
import config from '../playwright.config';

// Chromium's fake camera (a generated test pattern), on top of the configuration's flags.
const FAKE_CAMERA = [
  ...(config.use?.launchOptions?.args ?? []),
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
];

const GPS_MARKER = 'GPS-48.8584N-2.2945E-secret-place';

/** A `width` × `height` JPEG drawn in the page, with an EXIF block carrying GPS_MARKER spliced in. */
async function photo(page: Page, width: number, height: number): Promise<Buffer> {
  const b64 = await page.evaluate(
    async ([w, h]) => {
      const c = document.createElement('canvas');
      c.width = w;
      c.height = h;
      const g = c.getContext('2d')!;
      const grad = g.createLinearGradient(0, 0, w, h);
      grad.addColorStop(0, '#d1495b');
      grad.addColorStop(1, '#00798c');
      g.fillStyle = grad;
      g.fillRect(0, 0, w, h);
      g.fillStyle = '#edae49';
      g.beginPath();
      g.arc(w / 2, h / 2, h / 4, 0, Math.PI * 2);
      g.fill();
      const blob: Blob = await new Promise((r) => c.toBlob((b) => r(b!), 'image/jpeg', 0.85));
      const bytes = new Uint8Array(await blob.arrayBuffer());
      let s = '';
      for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(s);
    },
    [width, height],
  );
  const jpeg = Buffer.from(b64, 'base64');
  const exif = Buffer.concat([Buffer.from('Exif\0\0MM\0\x2a\0\0\0\x08\0\0\0\0\0\0', 'binary'), Buffer.from(GPS_MARKER)]);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(exif.length + 2);
  return Buffer.concat([jpeg.subarray(0, 2), Buffer.from([0xff, 0xe1]), len, exif, jpeg.subarray(2)]);
}

/** A 400 × 200 JPEG, left half red, right half blue, stored sideways with EXIF orientation 6
 * ("turn 90° clockwise to view"): upright, red is on top. */
async function sideways(page: Page): Promise<Buffer> {
  const b64 = await page.evaluate(async () => {
    const c = document.createElement('canvas');
    c.width = 400;
    c.height = 200;
    const g = c.getContext('2d')!;
    g.fillStyle = '#dc1414';
    g.fillRect(0, 0, 200, 200);
    g.fillStyle = '#1414dc';
    g.fillRect(200, 0, 200, 200);
    const blob: Blob = await new Promise((r) => c.toBlob((b) => r(b!), 'image/jpeg', 0.95));
    const bytes = new Uint8Array(await blob.arrayBuffer());
    return btoa(String.fromCharCode(...bytes));
  });
  const jpeg = Buffer.from(b64, 'base64');
  // A big-endian TIFF with one IFD entry: Orientation (0x0112), SHORT, 1, value 6.
  const tiff = Buffer.from([0x4d, 0x4d, 0, 0x2a, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0]);
  const exif = Buffer.concat([Buffer.from('Exif\0\0', 'binary'), tiff]);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(exif.length + 2);
  return Buffer.concat([jpeg.subarray(0, 2), Buffer.from([0xff, 0xe1]), len, exif, jpeg.subarray(2)]);
}

/** The colour at (x, y) of the picture at `src`, read in the page. */
async function pixel(page: Page, src: string, x: number, y: number): Promise<number[]> {
  return page.evaluate(
    async ([url, px, py]) => {
      const bmp = await createImageBitmap(await (await fetch(url as string)).blob());
      const c = document.createElement('canvas');
      c.width = bmp.width;
      c.height = bmp.height;
      const g = c.getContext('2d')!;
      g.drawImage(bmp, 0, 0);
      return Array.from(g.getImageData(px as number, py as number, 1, 1).data);
    },
    [src, x, y],
  );
}

/** The width and height a WebP file declares (lossless VP8L, or the extended VP8X header). */
function webpSize(b: Buffer): [number, number] {
  const kind = b.subarray(12, 16).toString();
  if (kind === 'VP8L') {
    const bits = b.readUInt32LE(21);
    return [(bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1];
  }
  if (kind === 'VP8X') return [b.readUIntLE(24, 3) + 1, b.readUIntLE(27, 3) + 1];
  throw new Error(`unexpected WebP chunk ${kind}`);
}

/** The avatar `<img>` in the top bar's menu button (navigation "Account"). */
function topBarAvatar(page: Page) {
  return page.getByRole('navigation', { name: 'Account' }).locator('button img');
}

/** U2: the picture behind `src` is a square WebP of at most 512 pixels, nosniff, without the EXIF bytes. */
async function expectSafeSquare(page: Page, src: string): Promise<void> {
  const res = await page.request.get(src);
  expect(res.status()).toBe(200);
  expect(res.headers()['content-type']).toBe('image/webp');
  expect(res.headers()['x-content-type-options']).toBe('nosniff');
  const body = await res.body();
  expect(body.includes(Buffer.from(GPS_MARKER))).toBe(false);
  expect(body.subarray(0, 4).toString()).toBe('RIFF');
  const [w, h] = webpSize(body);
  expect(w).toBe(h);
  expect(w).toBeLessThanOrEqual(512);
}

async function signedInOnDashboard(page: Page, tag: string, js: boolean): Promise<string> {
  const email = uniqueEmail(tag);
  await registerAndVerify(page, email, js);
  await signIn(page, email, js);
  if (js) {
    await hydrated(page);
    await expect(page.locator('html')).toHaveAttribute('data-cropper', 'ready');
  }
  return email;
}

// The whole file runs in a Chromium with the fake camera (launch options are per worker).
test.use({ launchOptions: { executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: FAKE_CAMERA } });

test.describe('with JavaScript: the cropper', () => {
  test('upload a 4000×3000 photo, zoom with the keyboard, rotate, Update; then the camera, a built-in avatar, and remove', async ({ page }) => {
    await signedInOnDashboard(page, 'avatar-js', true);
    await expect(page.getByRole('tab', { name: 'Dashboard' })).toHaveAttribute('aria-selected', 'true');
    await expect(page.getByRole('heading', { name: 'Invitations' })).toBeVisible();
    await expect(page.getByText('No invitations waiting')).toBeVisible();
    await expect(topBarAvatar(page)).toHaveCount(0);
    // With the cropper running, its dialog replaces the plain form.
    await expect(page.getByRole('button', { name: 'Upload photo' })).toBeHidden();
    await noAxeViolations(page);

    // A file that is not an image: its message inside the dialog, nothing changes.
    await page.getByRole('button', { name: 'Edit avatar' }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit avatar' });
    await expect(dialog).toBeVisible();
    await noAxeViolations(page);
    let chooser = page.waitForEvent('filechooser');
    await dialog.getByRole('button', { name: 'Upload a photo' }).click();
    await (await chooser).setFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('just some words') });
    await expect(dialog.getByRole('alert')).toHaveText('That file is not a PNG, JPEG or WebP image.');
    await expect(dialog.getByRole('button', { name: 'Update' })).toBeDisabled();

    // The 12-megapixel photo: downscaled once when loaded, then framed.
    const big = await photo(page, 4000, 3000);
    chooser = page.waitForEvent('filechooser');
    await dialog.getByRole('button', { name: 'Upload a photo' }).click();
    await (await chooser).setFiles({ name: 'holiday.jpg', mimeType: 'image/jpeg', buffer: big });
    await expect(dialog.getByRole('alert')).toBeHidden();
    const zoom = dialog.getByRole('slider', { name: 'Zoom' });
    await expect(zoom).toHaveValue('1');
    const frame = dialog.getByRole('img', { name: /Your photo in the frame/ });
    await expect(frame).toBeFocused();
    await page.keyboard.press('+');
    await page.keyboard.press('+');
    await page.keyboard.press('ArrowLeft');
    await expect(zoom).toHaveValue('1.21');
    await dialog.getByRole('button', { name: 'Rotate' }).click();
    await expect(dialog.locator('#avatar-status')).toHaveText('Zoom 121 percent, rotated 90 degrees');
    await dialog.getByRole('button', { name: 'Update' }).click();
    await expect(dialog).toBeHidden();
    await expect(page.getByRole('status')).toHaveText('Your new picture is saved.');
    await expect(topBarAvatar(page)).toHaveAttribute('src', /^\/avatars\/[0-9a-f]{32}\/64$/);
    const first = (await topBarAvatar(page).getAttribute('src'))!;
    await expectSafeSquare(page, first);
    await expect(page.getByRole('img', { name: 'Your profile picture' })).toHaveAttribute('src', first.replace('/64', '/256'));
    // The next page shows it too.
    await page.getByRole('tab', { name: 'Security' }).click();
    await expect(topBarAvatar(page)).toHaveAttribute('src', first);
    await page.getByRole('tab', { name: 'Dashboard' }).click();
    await expect(page.locator('html')).toHaveAttribute('data-cropper', 'ready');

    // Take a photo with the (fake) camera.
    await page.getByRole('button', { name: 'Edit avatar' }).click();
    await dialog.getByRole('button', { name: 'Take a photo' }).click();
    await expect(dialog.getByLabel('Camera preview')).toBeVisible();
    await dialog.getByRole('button', { name: 'Capture' }).click();
    await expect(dialog.getByRole('slider', { name: 'Zoom' })).toBeVisible();
    await expect(dialog.getByLabel('Camera preview')).toBeHidden();
    await dialog.getByRole('button', { name: 'Update' }).click();
    await expect(dialog).toBeHidden();
    await expect(topBarAvatar(page)).not.toHaveAttribute('src', first);
    const second = (await topBarAvatar(page).getAttribute('src'))!;
    await expectSafeSquare(page, second);
    expect((await page.request.get(first)).status()).toBe(404);

    // Choose a built-in avatar; Escape closes the dialog without a change, then again and Update.
    await page.getByRole('button', { name: 'Edit avatar' }).click();
    await page.keyboard.press('Escape');
    await expect(dialog).toBeHidden();
    await page.getByRole('button', { name: 'Edit avatar' }).click();
    await dialog.getByRole('button', { name: 'Choose an avatar' }).click();
    const builtIns = dialog.getByRole('group', { name: 'Built-in avatars' });
    await expect(builtIns.getByRole('radio')).toHaveCount(8);
    await builtIns.getByRole('radio', { name: 'Owl' }).check();
    await expect(dialog.locator('#avatar-status')).toContainText('Photo ready');
    await dialog.getByRole('button', { name: 'Update' }).click();
    await expect(dialog).toBeHidden();
    await expect(topBarAvatar(page)).not.toHaveAttribute('src', second);
    await expectSafeSquare(page, (await topBarAvatar(page).getAttribute('src'))!);

    // Remove: the initials again, no image in the top bar.
    await page.getByRole('button', { name: 'Edit avatar' }).click();
    await dialog.getByRole('button', { name: 'Remove avatar' }).click();
    await expect(dialog).toBeHidden();
    await expect(topBarAvatar(page)).toHaveCount(0);
    await expect(page.getByRole('button', { name: 'Ada Lovelace' })).toContainText('AL');
    await expect(page.getByRole('status')).toHaveText('Your picture is removed. Your initials show instead.');

    // G1: every change is in the activity log.
    await page.getByRole('tab', { name: 'Security' }).click();
    const events = page.getByRole('list', { name: 'Security events' }).getByRole('listitem');
    await expect(events.first()).toContainText('Profile picture removed');
    await expect(events.filter({ hasText: 'Profile picture changed' })).toHaveCount(3);
  });

  test('a photo stored sideways (EXIF orientation 6) comes out upright', async ({ page }) => {
    await signedInOnDashboard(page, 'avatar-exif', true);
    const photo = await sideways(page);
    await page.getByRole('button', { name: 'Edit avatar' }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit avatar' });
    const chooser = page.waitForEvent('filechooser');
    await dialog.getByRole('button', { name: 'Upload a photo' }).click();
    await (await chooser).setFiles({ name: 'portrait.jpg', mimeType: 'image/jpeg', buffer: photo });
    await expect(dialog.locator('#avatar-status')).toContainText('Photo ready');
    await dialog.getByRole('button', { name: 'Update' }).click();
    await expect(dialog).toBeHidden();
    const src = (await page.getByRole('img', { name: 'Your profile picture' }).getAttribute('src'))!;
    // Upright: red above blue (stored as is, red would be on the left).
    const [topRight, bottomLeft] = [await pixel(page, src, 236, 20), await pixel(page, src, 20, 236)];
    expect(topRight[0]).toBeGreaterThan(150);
    expect(topRight[2]).toBeLessThan(100);
    expect(bottomLeft[2]).toBeGreaterThan(150);
    expect(bottomLeft[0]).toBeLessThan(100);
  });

  test('no camera permission: said in words, the other ways stay', async ({ page }) => {
    await page.addInitScript(() => {
      navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('denied', 'NotAllowedError'));
    });
    await signedInOnDashboard(page, 'avatar-nocam', true);
    await page.getByRole('button', { name: 'Edit avatar' }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit avatar' });
    await dialog.getByRole('button', { name: 'Take a photo' }).click();
    await expect(dialog.getByRole('alert')).toHaveText('The camera is not allowed here. You can still upload a photo or choose an avatar.');
    await expect(dialog.getByRole('button', { name: 'Upload a photo' })).toBeEnabled();
    await expect(dialog.getByRole('button', { name: 'Choose an avatar' })).toBeEnabled();
  });
});

test.describe('without JavaScript: the plain upload form', () => {
  test('upload a photo (centre-cropped on the server), refuse a non-image, remove', async ({ page: scripted, browser }) => {
    // The test photo is drawn in a page that runs scripts; the person's browser runs none.
    await scripted.goto('/login');
    const jpeg = await photo(scripted, 1200, 800);
    const context = await browser.newContext({ javaScriptEnabled: false, baseURL: test.info().project.use.baseURL });
    const page = await context.newPage();
    await signedInOnDashboard(page, 'avatar-nojs', false);
    await expect(page.getByRole('button', { name: 'Edit avatar' })).toBeHidden();
    await expect(topBarAvatar(page)).toHaveCount(0);

    await page.getByLabel('Photo', { exact: true }).setInputFiles({ name: 'notes.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.7 not a photo') });
    await page.getByRole('button', { name: 'Upload photo' }).click();
    await expect(page.getByText('That file is not a PNG, JPEG or WebP image.')).toBeVisible();
    await expect(page.getByLabel('Photo', { exact: true })).toHaveAttribute('aria-invalid', 'true');
    await expect(topBarAvatar(page)).toHaveCount(0);

    await page.getByLabel('Photo', { exact: true }).setInputFiles({ name: 'me.jpg', mimeType: 'image/jpeg', buffer: jpeg });
    await page.getByRole('button', { name: 'Upload photo' }).click();
    await expect(page.getByText('Your new picture is saved.')).toBeVisible();
    await expect(topBarAvatar(page)).toHaveAttribute('src', /^\/avatars\/[0-9a-f]{32}\/64$/);
    await expect(page.getByRole('img', { name: 'Your profile picture' })).toBeVisible();
    await expectSafeSquare(page, (await topBarAvatar(page).getAttribute('src'))!);

    await page.getByRole('button', { name: 'Remove avatar' }).click();
    await expect(page.getByText('Your picture is removed. Your initials show instead.')).toBeVisible();
    await expect(topBarAvatar(page)).toHaveCount(0);
    await context.close();
  });
});
