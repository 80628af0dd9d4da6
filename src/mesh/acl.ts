import * as z from "zod/mini";
import { SdkClientError, SdkErrorCode } from "../errors.ts";
import type { Message } from "../message.ts";
import type { Authorize } from "../router.ts";
import { toValidationIssues } from "../wire-schema.ts";

/**
 * An access-control policy (Spawn's `Acl.Policy`): who (`actors`) may or may not call which services
 * (`actions`) from which systems (`systems`). Each list holds names or patterns where `*` matches anything.
 */
export interface AclPolicy {
  readonly name: string;
  readonly type: "allow" | "deny";
  readonly actors: readonly string[];
  readonly actions: readonly string[];
  readonly systems: readonly string[];
}

const patterns = z.array(z.string().check(z.minLength(1), z.maxLength(200))).check(z.minLength(1));
const policySchema = z.strictObject({
  name: z.string().check(z.minLength(1)),
  type: z.enum(["allow", "deny"]),
  actors: patterns,
  actions: patterns,
  systems: patterns,
});

/**
 * Validates policies loaded from plain JSON (a config file, an env var). Throws `INVALID_OPTIONS` with the
 * issues in `details` when anything is off: a typo must not silently widen or narrow access.
 *
 * @example
 * import { parseAclPolicies } from "x3m-system";
 * const policies = parseAclPolicies(JSON.parse(env.ACL_POLICIES));
 */
export function parseAclPolicies(input: unknown): AclPolicy[] {
  const parsed = z.array(policySchema).safeParse(input);
  if (!parsed.success) {
    const issues = toValidationIssues(parsed.error.issues);
    throw new SdkClientError(SdkErrorCode.INVALID_OPTIONS, "invalid ACL policies", { details: issues });
  }
  return parsed.data;
}

function matcher(pattern: string): (value: string) => boolean {
  if (pattern === "*") return () => true;
  if (!pattern.includes("*")) return (value) => value === pattern;
  const regex = new RegExp(
    `^${pattern
      .split("*")
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`,
  );
  return (value) => regex.test(value);
}

/** Who is calling, as an ACL sees it: the caller's name and system. */
export interface AclCall {
  readonly caller: string | undefined;
  readonly action: string;
  readonly system: string | undefined;
}

/** How `aclAuthorize` reads the caller and its system from a message, when the defaults do not fit. */
export interface AclOptions {
  /** The caller's name. @default `assigns.principal.user`, else `assigns.principal.id`, else `assigns.caller` */
  caller?(message: Message): string | undefined;
  /** The caller's system. @default `assigns.principal.system`, else the node the message came from */
  system?(message: Message): string | undefined;
}

const stringOr = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);

function defaultCaller(message: Message): string | undefined {
  const principal = message.assigns.principal as Record<string, unknown> | undefined;
  return stringOr(principal?.user) ?? stringOr(principal?.id) ?? stringOr(message.assigns.caller);
}

function defaultSystem(message: Message): string | undefined {
  const principal = message.assigns.principal as Record<string, unknown> | undefined;
  return stringOr(principal?.system) ?? message.originNode ?? undefined;
}

/**
 * Evaluates policies for one call. The rule when several match: **any matching deny wins**; otherwise any
 * matching allow allows; no match denies (deny by default). A caller or system that is unknown is matched
 * only by `*`.
 */
export function evaluateAcl(policies: readonly AclPolicy[], call: AclCall): { allowed: boolean; policy?: string } {
  const matches = (policy: AclPolicy) =>
    policy.actors.some((p) => matcher(p)(call.caller ?? "") && (call.caller !== undefined || p === "*")) &&
    policy.actions.some((p) => matcher(p)(call.action)) &&
    policy.systems.some((p) => matcher(p)(call.system ?? "") && (call.system !== undefined || p === "*"));
  const matching = policies.filter(matches);
  const deny = matching.find((policy) => policy.type === "deny");
  if (deny) return { allowed: false, policy: deny.name };
  const allow = matching.find((policy) => policy.type === "allow");
  return allow ? { allowed: true, policy: allow.name } : { allowed: false };
}

/**
 * A ready-made router `authorize` from ACL policies (Spawn's AclEvaluator). A denial's reason names the
 * deciding policy: `{ forbidden: "policy-name" }`, or `"forbidden"` when no policy matched.
 *
 * @example
 * import { aclAuthorize, defineRouter } from "x3m-system";
 * const router = defineRouter({
 *   name: "actors",
 *   services: { get: (msg) => msg.ok(state) },
 *   authorize: aclAuthorize([{ name: "readers", type: "allow", actors: ["*"], actions: ["get"], systems: ["*"] }]),
 * });
 */
export function aclAuthorize(policies: readonly AclPolicy[], options: AclOptions = {}): Authorize {
  const checked = parseAclPolicies(policies);
  const callerOf = options.caller ?? defaultCaller;
  const systemOf = options.system ?? defaultSystem;
  return (message) => {
    const verdict = evaluateAcl(checked, {
      caller: callerOf(message),
      action: message.serviceName,
      system: systemOf(message),
    });
    if (verdict.allowed) return true;
    return verdict.policy ? { forbidden: verdict.policy } : "forbidden";
  };
}
