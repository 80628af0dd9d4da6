import { SdkClientError, SdkErrorCode } from "./errors.ts";
import { FORBIDDEN_KEYS } from "./ids.ts";

/** Deepest nesting accepted from the wire; deeper input is rejected rather than walked. */
const MAX_DEPTH = 64;

/** Options of `assertNoForbiddenKeys`: how its error names the input, and which code a too-deep input gets. */
export interface WalkOptions {
  /** Named in the error message. @default "input" */
  subject?: string;
  /** Code of the error for input nested too deep. @default INVALID_MESSAGE */
  depthErrorCode?: SdkErrorCode;
}

/**
 * Throws when `value` (already parsed, e.g. received by structured clone) holds a prototype-polluting
 * key (`__proto__`, `constructor`, `prototype`) at any depth (the outermost one is reported), or nests
 * deeper than 64 levels. Iterative, so hostile nesting cannot overflow the stack.
 */
export function assertNoForbiddenKeys(value: unknown, options: WalkOptions = {}): void {
  const { subject = "input", depthErrorCode = SdkErrorCode.INVALID_MESSAGE } = options;
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    if (typeof item.value !== "object" || item.value === null) continue;
    if (item.depth > MAX_DEPTH) {
      throw new SdkClientError(depthErrorCode, `${subject} nests deeper than ${MAX_DEPTH} levels`);
    }
    for (const key of Object.keys(item.value)) {
      if (FORBIDDEN_KEYS.has(key)) {
        throw new SdkClientError(SdkErrorCode.FORBIDDEN_KEY, `forbidden key "${key}" in ${subject}`);
      }
      stack.push({ value: (item.value as Record<string, unknown>)[key], depth: item.depth + 1 });
    }
  }
}

/**
 * `JSON.parse` that refuses prototype-polluting keys, escaped or not. It parses plainly, then walks the
 * result (JSON.parse makes `"__proto__"` an own key, so the walk sees it): a reviver was 5x slower.
 */
export function parseJsonSafely(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new SdkClientError(SdkErrorCode.INVALID_FRAME, "frame is not valid JSON", { cause: error });
  }
  assertNoForbiddenKeys(value, { subject: "frame", depthErrorCode: SdkErrorCode.INVALID_FRAME });
  return value;
}

const encoder = /* @__PURE__ */ new TextEncoder();

/** UTF-8 size of `text` in bytes, computed only when the cheap bounds cannot decide. */
export function exceedsBytes(text: string, limitBytes: number): boolean {
  if (text.length > limitBytes) return true;
  if (text.length * 3 <= limitBytes) return false;
  return encoder.encode(text).byteLength > limitBytes;
}
