// What a driver cannot do on an engine, and why: a test that needs it is skipped there, visibly (its
// title says so), never silently.
import { it, type TestFunction } from "vitest";
import { ENGINE_INSTALLS, type EngineName } from "../../scripts/find-browsers.ts";
import { currentEngine } from "./harness.ts";

/** Driver abilities some engines lack. */
export type DriverAbility = "crashOnePage" | "storageQuota";

const GAPS: Record<EngineName, Partial<Record<DriverAbility, string>>> = {
  chromium: {},
  firefox: {},
  webkit: {
    crashOnePage: "WebKitWebDriver ends the whole session, every page of the context, when one page's web process dies",
    storageQuota: "neither WebKitWebDriver nor MiniBrowser can set an origin's storage quota",
  },
};

/** Why the current engine cannot do `ability`, or undefined when it can. */
export function gapOf(ability: DriverAbility): string | undefined {
  return GAPS[currentEngine()][ability];
}

/** `it`, except on an engine that lacks `ability`: there the test is skipped and its title says why. */
export function itNeeds(ability: DriverAbility, title: string, fn: TestFunction, timeout?: number): void {
  const gap = gapOf(ability);
  if (gap === undefined) return void it(title, fn, timeout);
  const label = ENGINE_INSTALLS[currentEngine()].label;
  // Printed too: the reporter lists skipped tests by title only when their file has a failure.
  console.warn(`skipped on ${label}: "${title}": ${gap}`);
  it.skip(`${title} [skipped on ${label}: ${gap}]`, fn);
}
