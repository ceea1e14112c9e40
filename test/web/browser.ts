// Headless Chromium for the browser tests (the report and the web demo), by the recipe of the
// design notes: Debian's chromium driven by playwright-core. Like testGpu(), a missing browser is a
// failure in CI (CI=true), so a broken install cannot turn these tests into silent skips; elsewhere
// they skip loudly.

import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The flags from the design notes: WebGPU on (SwiftShader without a GPU), nothing phoning home. */
export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Whether the browser tests can run here; throws in CI when Chromium is missing. */
export function haveChromium(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.CI === 'true') throw new Error(`CI=true but Chromium was not found at ${CHROMIUM}: install Debian's 'chromium' (scripts/setup.sh)`);
  console.warn(`\n!!! Chromium not found at ${CHROMIUM}: browser tests are SKIPPED. Install Debian's 'chromium' (scripts/setup.sh). !!!\n`);
  return false;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
}
