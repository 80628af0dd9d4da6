import { SdkClientError, SdkErrorCode } from "../errors.ts";
import { FORBIDDEN_KEYS } from "../ids.ts";
import type { Message } from "../message.ts";
import type { Alarm } from "./alarm-store.ts";

/** The assigns pinned by default: `principal`, where the edge and the ACL policies keep the caller. */
export const DEFAULT_PINNED_ASSIGNS: readonly string[] = ["principal"];

export function checkPinnedKeys(keys: readonly string[]): void {
  for (const key of keys) {
    if (typeof key !== "string" || FORBIDDEN_KEYS.has(key)) {
      throw new SdkClientError(SdkErrorCode.INVALID_SCHEDULE, `"${String(key)}" cannot be a pinned assign`);
    }
  }
}

/** The pinned keys of a scheduled message's `assigns`; a key it lacks is recorded as absent. */
export function capturePinned(
  assigns: Readonly<Record<string, unknown>>,
  keys: readonly string[],
): Record<string, unknown> {
  const pinned: Record<string, unknown> = {};
  for (const key of keys) if (Object.hasOwn(assigns, key)) pinned[key] = assigns[key];
  return pinned;
}

/**
 * `message` with the alarm's pinned assigns exactly as captured: each key pinned then or now gets the
 * captured value, or is removed when it had none, whatever a hook, a reply or a retry put there since.
 */
export function applyPinned(message: Message, alarm: Alarm, keys: readonly string[]): Message {
  const pinned = alarm.pinned;
  // An alarm stored before assigns were pinned is delivered as it was saved.
  if (pinned === undefined) return message;
  const assigns: Record<string, unknown> = { ...message.assigns };
  for (const key of new Set([...keys, ...Object.keys(pinned)])) {
    if (FORBIDDEN_KEYS.has(key)) continue;
    if (Object.hasOwn(pinned, key)) assigns[key] = pinned[key];
    else delete assigns[key];
  }
  return message.with({ assigns });
}
