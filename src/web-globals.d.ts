// The few web-standard globals the core uses, declared here so that `tsconfig.src.json` can compile
// `src/` with no DOM, Node or Workers typings at all: any other global is a compile error.
declare function setTimeout(callback: () => void, delayMs?: number): unknown;
declare function clearTimeout(handle: unknown): void;
declare function queueMicrotask(callback: () => void): void;
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
declare class TextDecoder {
  decode(input?: Uint8Array): string;
}
declare const crypto: {
  randomUUID(): string;
  getRandomValues<TArray extends ArrayBufferView>(array: TArray): TArray;
};
declare function structuredClone<TValue>(value: TValue): TValue;
