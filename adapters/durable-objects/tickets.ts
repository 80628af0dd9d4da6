import type { Principal } from "./edge-options.ts";

// A ticket is `<payload>.<signature>`, both base64url: the payload is `{ p: principal, exp: epoch ms }`,
// the signature its HMAC-SHA-256 under the app's secret. Browsers cannot set headers on a WebSocket, so
// they would put the session token in the URL (and in every log on the way); a ticket there is harmless
// once it has expired, a few seconds later, and carries no session.

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function keyFor(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify",
    ]);
    keys.set(secret, key);
  }
  return key;
}

const toBase64Url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");

function fromBase64Url(text: string): Uint8Array<ArrayBuffer> | undefined {
  try {
    const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    return Uint8Array.from(binary, (char) => char.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/** A ticket for `principal`, valid until `now + ttlMs`. */
export async function issueTicket(
  principal: Principal,
  secret: string,
  options: { now: number; ttlMs: number },
): Promise<{ ticket: string; expiresAt: number }> {
  const expiresAt = options.now + options.ttlMs;
  const payload = toBase64Url(encoder.encode(JSON.stringify({ p: principal, exp: expiresAt })));
  const signature = await crypto.subtle.sign("HMAC", await keyFor(secret), encoder.encode(payload));
  return { ticket: `${payload}.${toBase64Url(new Uint8Array(signature))}`, expiresAt };
}

/** The principal of a valid, unexpired ticket signed with `secret`; `null` for anything else. */
export async function verifyTicket(ticket: string, secret: string, now: number): Promise<Principal | null> {
  const [payload, signature, extra] = ticket.split(".");
  if (!payload || !signature || extra !== undefined || ticket.length > 8_192) return null;
  const signatureBytes = fromBase64Url(signature);
  if (!signatureBytes) return null;
  const valid = await crypto.subtle.verify("HMAC", await keyFor(secret), signatureBytes, encoder.encode(payload));
  if (!valid) return null;
  try {
    const { p, exp } = JSON.parse(new TextDecoder().decode(fromBase64Url(payload))) as { p?: unknown; exp?: unknown };
    if (typeof exp !== "number" || exp < now || typeof p !== "object" || p === null || Array.isArray(p)) return null;
    return p as Principal;
  } catch {
    return null;
  }
}
