import { SdkClientError, SdkErrorCode } from "./errors.ts";
import { FORBIDDEN_KEYS } from "./ids.ts";

/** Deepest nesting accepted from the wire; deeper input is rejected rather than walked. */
const MAX_DEPTH = 64;

/**
 * Throws when `value` (already parsed, e.g. received by structured clone) holds a prototype-polluting
 * key (`__proto__`, `constructor`, `prototype`) at any depth, or nests deeper than 64 levels.
 */
export function assertNoForbiddenKeys(value: unknown): void {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const item = stack.pop() as { value: unknown; depth: number };
    if (typeof item.value !== "object" || item.value === null) continue;
    if (item.depth > MAX_DEPTH) {
      throw new SdkClientError(SdkErrorCode.INVALID_MESSAGE, `input nests deeper than ${MAX_DEPTH} levels`);
    }
    for (const key of Object.keys(item.value)) {
      if (FORBIDDEN_KEYS.has(key)) {
        throw new SdkClientError(SdkErrorCode.FORBIDDEN_KEY, `forbidden key "${key}" in input`);
      }
      stack.push({ value: (item.value as Record<string, unknown>)[key], depth: item.depth + 1 });
    }
  }
}

function rejectForbiddenKeys(key: string, value: unknown): unknown {
  if (FORBIDDEN_KEYS.has(key)) {
    throw new SdkClientError(SdkErrorCode.FORBIDDEN_KEY, `forbidden key "${key}" in frame`);
  }
  return value;
}

/** `JSON.parse` that refuses prototype-polluting keys, escaped or not. */
export function parseJsonSafely(text: string): unknown {
  try {
    return JSON.parse(text, rejectForbiddenKeys);
  } catch (error) {
    if (error instanceof SdkClientError) throw error;
    throw new SdkClientError(SdkErrorCode.INVALID_FRAME, "frame is not valid JSON", { cause: error });
  }
}

const encoder = /* @__PURE__ */ new TextEncoder();

/** UTF-8 size of `text` in bytes, computed only when the cheap bounds cannot decide. */
export function exceedsBytes(text: string, limitBytes: number): boolean {
  if (text.length > limitBytes) return true;
  if (text.length * 3 <= limitBytes) return false;
  return encoder.encode(text).byteLength > limitBytes;
}
