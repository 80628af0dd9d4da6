import { describe, expect, it } from "vitest";
import { Response } from "../../src/index.ts";

describe("Response", () => {
  it.each([
    [Response.ok(), { status: "ok" }],
    [Response.ok("payload"), { status: "ok", payload: "payload" }],
    [Response.ok("payload", 3), { status: "ok", payload: "payload", version: 3 }],
    [Response.ok(undefined, -1), { status: "ok", version: -1 }],
    [Response.created("a-1"), { status: "created", id: "a-1" }],
    [Response.created("a-1", 0), { status: "created", id: "a-1", version: 0 }],
    [Response.serviceUnavailable("svc"), { status: "service_unavailable", service: "svc" }],
    [
      Response.serviceTimeout("svc", "m-1", 5000),
      { status: "service_timeout", service: "svc", messageId: "m-1", timeoutMs: 5000 },
    ],
    [
      Response.validationError([{ message: "required", path: ["name"] }]),
      { status: "validation_error", issues: [{ message: "required", path: ["name"] }] },
    ],
    [Response.missingId("id"), { status: "missing_id", field: "id" }],
    [Response.unauthorized("admins only"), { status: "unauthorized", reason: "admins only" }],
    [Response.error("boom"), { status: "error", reason: "boom" }],
    [Response.forbidden(), { status: "error", reason: "forbidden", denied: true }],
    [Response.denied("login required"), { status: "error", reason: "login required", denied: true }],
    [Response.unknownService("greet"), { status: "service_unavailable", service: "greet", unknown: true }],
    [Response.tryAnotherNode("quorum_not_met"), { status: "try_another_node", reason: "quorum_not_met" }],
    [
      Response.noNodesAvailable([{ node: "n1", reason: "r" }]),
      { status: "no_nodes_available", tried: [{ node: "n1", reason: "r" }] },
    ],
    [Response.notFound(), { status: "not_found" }],
    [Response.wrongExpectedVersion(1, 3), { status: "wrong_expected_version", expected: 1, actual: 3 }],
    [Response.alreadyExists(), { status: "already_exists" }],
  ])("constructs %j", (response, expected) => {
    expect(response).toEqual(expected);
    expect(JSON.parse(JSON.stringify(response))).toEqual(expected);
  });

  it("has a guard for every status", () => {
    const cases = {
      isOk: Response.ok(),
      isCreated: Response.created("a"),
      isServiceUnavailable: Response.serviceUnavailable("s"),
      isServiceTimeout: Response.serviceTimeout("s", "m", 1),
      isValidationError: Response.validationError([]),
      isMissingId: Response.missingId("id"),
      isUnauthorized: Response.unauthorized(),
      isError: Response.error("e"),
      isTryAnotherNode: Response.tryAnotherNode("r"),
      isNoNodesAvailable: Response.noNodesAvailable([]),
      isNotFound: Response.notFound(),
      isWrongExpectedVersion: Response.wrongExpectedVersion(0, 1),
      isAlreadyExists: Response.alreadyExists(),
    } as const;
    for (const [guard, response] of Object.entries(cases)) {
      for (const [otherGuard, other] of Object.entries(cases)) {
        expect(Response[guard as keyof typeof cases](other)).toBe(guard === otherGuard);
      }
      expect(Response.is(response, response.status)).toBe(true);
    }
    expect(Response.isOk(null)).toBe(false);
    expect(Response.isOk("ok")).toBe(false);
  });

  it("recognises the router's denial", () => {
    expect(Response.isForbidden(Response.forbidden())).toBe(true);
    expect(Response.isForbidden(Response.error({ forbidden: "None shall pass!" }))).toBe(false);
  });
});
