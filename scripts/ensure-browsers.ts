// Makes sure the browser suite has a Chromium: CHROME_PATH, a system Chromium, or (as root with apt)
// Debian's `chromium` package, installed here. Anything else fails with how to get one.
import { execFileSync } from "node:child_process";
import { findChromium } from "./find-chromium.ts";

function canInstallWithApt(): boolean {
  try {
    execFileSync("sh", ["-c", "command -v apt-get"], { stdio: "ignore" });
    return process.getuid?.() === 0;
  } catch {
    return false;
  }
}

if (!findChromium()) {
  if (process.env.CHROME_PATH) {
    console.error(`CHROME_PATH is set to ${process.env.CHROME_PATH}, which does not exist.`);
    process.exit(1);
  }
  if (!canInstallWithApt()) {
    console.error(
      "No Chromium found. Install one (Debian: `apt-get install -y chromium`) or set CHROME_PATH to its executable.",
    );
    process.exit(1);
  }
  console.log("No Chromium found: installing Debian's chromium package for the browser suite…");
  execFileSync("sh", ["-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium"], {
    stdio: "inherit",
  });
  if (!findChromium()) {
    console.error("apt-get finished but no Chromium executable was found.");
    process.exit(1);
  }
}
