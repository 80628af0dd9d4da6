import { ENGINE_INSTALLS, type EngineName, findBrowser } from "../../../scripts/find-browsers.ts";
import type { BrowserDriver } from "../driver.ts";
import { launchChromium } from "./chromium.ts";
import { launchFirefox } from "./firefox.ts";
import { launchWebKit } from "./webkit.ts";

/** Starts the engine's browser (found as `scripts/ensure-browsers.ts` finds it) behind the driver interface. */
export async function launchDriver(engine: EngineName): Promise<BrowserDriver> {
  const executablePath = findBrowser(engine);
  if (!executablePath) {
    const { envVar } = ENGINE_INSTALLS[engine];
    throw new Error(`The browser suite needs ${engine}: run \`node scripts/ensure-browsers.ts\` or set ${envVar}.`);
  }
  if (engine === "firefox") return launchFirefox(executablePath);
  if (engine === "webkit") return launchWebKit(executablePath);
  return launchChromium(executablePath);
}
