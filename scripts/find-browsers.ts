import { existsSync } from "node:fs";

/** A browser engine the browser suites run on. */
export type EngineName = "chromium" | "firefox" | "webkit";

/** Every engine the suites know, in the order they run. */
export const ENGINES: readonly EngineName[] = ["chromium", "firefox", "webkit"];

interface EngineInstall {
  /** The engine's name for people. */
  readonly label: string;
  /** The environment variable that points at the executable, overriding the system paths. */
  readonly envVar: string;
  readonly candidates: readonly string[];
  /** Other programs it needs. */
  readonly requires?: readonly string[];
  /** Debian's packages that provide it (and what it requires). */
  readonly debianPackages: string;
}

/** Where each engine's executable can be, and how Debian installs it. */
export const ENGINE_INSTALLS: Record<EngineName, EngineInstall> = {
  chromium: {
    label: "Chromium",
    envVar: "CHROME_PATH",
    candidates: [
      "/usr/bin/chromium",
      "/usr/bin/chromium-browser",
      "/usr/bin/google-chrome",
      "/usr/bin/google-chrome-stable",
    ],
    debianPackages: "chromium",
  },
  firefox: {
    label: "Firefox",
    envVar: "FIREFOX_PATH",
    // The binary itself first (some systems put a wrapper script in /usr/bin): the driver tracks its processes.
    candidates: [
      "/usr/lib/firefox-esr/firefox-esr",
      "/usr/bin/firefox-esr",
      "/usr/lib/firefox/firefox",
      "/usr/bin/firefox",
    ],
    debianPackages: "firefox-esr",
  },
  webkit: {
    label: "WebKit",
    envVar: "WEBKIT_WEBDRIVER_PATH",
    // WebKitGTK's WebDriver; it starts WebKitGTK's MiniBrowser, in a virtual X display (no headless mode).
    candidates: ["/usr/bin/WebKitWebDriver"],
    requires: ["/usr/bin/Xvfb"],
    debianPackages: "webkit2gtk-driver xvfb",
  },
};

/**
 * The engines the browser suites and benchmarks run on: `X3M_BROWSERS` (comma-separated, e.g.
 * `X3M_BROWSERS=firefox`), else all of them. An unknown name throws.
 */
export function selectedEngines(value = process.env.X3M_BROWSERS): EngineName[] {
  if (!value?.trim()) return [...ENGINES];
  const names = value
    .split(",")
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean);
  const unknown = names.filter((name) => !ENGINES.includes(name as EngineName));
  if (unknown.length > 0) {
    throw new Error(`X3M_BROWSERS names unknown engines (${unknown.join(", ")}); known: ${ENGINES.join(", ")}`);
  }
  return ENGINES.filter((engine) => names.includes(engine));
}

/** The engine's executable (its env variable first, then the usual system paths), or undefined. */
export function findBrowser(engine: EngineName): string | undefined {
  const { envVar, candidates, requires = [] } = ENGINE_INSTALLS[engine];
  if (!requires.every((path) => existsSync(path))) return undefined;
  const fromEnv = process.env[envVar];
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : undefined;
  return candidates.find((path) => existsSync(path));
}

/** Chromium flags that work headless as root on a machine with no outside network. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
