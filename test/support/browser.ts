import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
// npm runs scripts from the package root.
export const ARTIFACTS = path.resolve(process.cwd(), 'artifacts');

export interface TestBrowser {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/** Debian's Chromium, headless, with a fresh, empty profile: nothing cached or remembered between runs. */
export async function launchBrowser(): Promise<TestBrowser> {
  const profile = await fs.mkdtemp(path.join(os.tmpdir(), 'coursebase-chromium-'));
  // Playwright takes the profile directory itself (it refuses --user-data-dir in args).
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      // Without these it floods this closed network with refused connections.
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      await fs.rm(profile, { recursive: true, force: true });
    },
  };
}
