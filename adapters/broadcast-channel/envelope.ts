/**
 * What travels on the channel: a small envelope around the node's frame text. The channel is shared
 * by every same-origin page, so anything may arrive on it; `readEnvelope` accepts only this shape.
 */

/** Envelope kinds: presence (`hello`, `here`, `beat`, `probe`, `bye`) and node frames (`frame`). */
export type EnvelopeKind = "hello" | "here" | "beat" | "probe" | "bye" | "frame";

export interface Envelope {
  /** Marks the envelope as this transport's, version 1. */
  readonly x3m: 1;
  readonly kind: EnvelopeKind;
  /** The sending node's id (claimed: a same-origin page can claim anything). */
  readonly from: string;
  /** The addressee; absent for broadcasts. */
  readonly to?: string;
  /** The node's frame (JSON text), for `kind: "frame"`. */
  readonly text?: string;
}

const KINDS: ReadonlySet<string> = new Set<EnvelopeKind>(["hello", "here", "beat", "probe", "bye", "frame"]);
const MAX_ID_LENGTH = 200;

function isId(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= MAX_ID_LENGTH;
}

/** The envelope in `data`, or `undefined` when `data` is anything else (garbage from another page). */
export function readEnvelope(data: unknown): Envelope | undefined {
  if (typeof data !== "object" || data === null || Array.isArray(data)) return undefined;
  const { x3m, kind, from, to, text } = data as Record<string, unknown>;
  if (x3m !== 1 || typeof kind !== "string" || !KINDS.has(kind) || !isId(from)) return undefined;
  if (to !== undefined && !isId(to)) return undefined;
  if (kind === "frame" ? typeof text !== "string" : text !== undefined) return undefined;
  return data as Envelope;
}
