// Makes sure the browser suites have every selected engine (`X3M_BROWSERS`, see `selectedEngines`): its
// env variable (CHROME_PATH, FIREFOX_PATH, WEBKIT_WEBDRIVER_PATH), a system install, or (as root with apt)
// Debian's packages, installed here. Anything else fails with how to get one.
import { execFileSync } from "node:child_process";
import { ENGINE_INSTALLS, type EngineName, findBrowser, selectedEngines } from "./find-browsers.ts";

function canInstallWithApt(): boolean {
  try {
    execFileSync("sh", ["-c", "command -v apt-get"], { stdio: "ignore" });
    return process.getuid?.() === 0;
  } catch {
    return false;
  }
}

function enginesOrExit(): EngineName[] {
  try {
    return selectedEngines();
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}

const missing: EngineName[] = [];
for (const engine of enginesOrExit()) {
  if (findBrowser(engine)) continue;
  const { envVar, debianPackages } = ENGINE_INSTALLS[engine];
  if (process.env[envVar]) {
    console.error(`${envVar} is set to ${process.env[envVar]}, which does not exist.`);
    process.exit(1);
  }
  missing.push(engine);
  if (!canInstallWithApt()) {
    console.error(
      `No ${engine} found for the browser suites. Install one (Debian: \`apt-get install -y ${debianPackages}\`), ` +
        `set ${envVar} to its executable, or leave it out with X3M_BROWSERS (e.g. X3M_BROWSERS=chromium).`,
    );
    process.exit(1);
  }
}

if (missing.length > 0) {
  const packages = missing.map((engine) => ENGINE_INSTALLS[engine].debianPackages).join(" ");
  console.log(`Not found: ${missing.join(", ")}; installing Debian's ${packages} for the browser suites…`);
  execFileSync(
    "sh",
    ["-c", `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${packages}`],
    { stdio: "inherit" },
  );
  for (const engine of missing) {
    if (!findBrowser(engine)) {
      console.error(`apt-get finished but no ${engine} executable was found.`);
      process.exit(1);
    }
  }
}
