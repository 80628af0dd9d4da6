import { SdkClientError, SdkErrorCode } from "./errors.ts";
import { isValidName } from "./ids.ts";
import type { Message } from "./message.ts";

/** Returned by a handler that will not answer (the original's `:noreply`); the caller then times out. */
export const noReply: unique symbol = Symbol("x3m-system.noReply");
/** The type of `noReply`. */
export type NoReply = typeof noReply;

/** What a service handler returns: the reply message, or `noReply`. */
// biome-ignore lint/suspicious/noExplicitAny: a handler may reply with a message of any request type.
export type HandlerResult = Message<any> | NoReply;

/** A service: takes the message, returns the reply (usually built with `msg.ok`/`created`/`error`/`return`). */
export type ServiceHandler = (message: Message) => HandlerResult | Promise<HandlerResult>;

/** A router's services: service name → handler. */
export type ServiceMap = Record<string, ServiceHandler>;
/** `"public"`: announced to peers and reachable from them; `"private"`: reachable only from this node. */
export type Visibility = "public" | "private";

/**
 * Decides whether a message may be served. Return `true` to allow; anything else denies and becomes the
 * error reason (`false`, `null` and `undefined` become `"forbidden"`).
 */
export type Authorize = (message: Message) => unknown;

/** `"local"` serves here; a node id forwards the call to that node (e.g. where an aggregate lives). */
export type ChooseNode = (message: Message) => string | Promise<string>;

/** What `defineRouter` takes: a name, public and private services, `authorize` and `chooseNode`. */
export interface RouterDefinition<TServices extends ServiceMap, TPrivate extends ServiceMap> {
  /** The router's name, announced with its services. */
  name: string;
  /** Public services: announced to peers and reachable from them. */
  services?: TServices;
  /** Private services: reachable only by dispatches made on this node. */
  privateServices?: TPrivate;
  /** @default denies everything with `{ status: "error", reason: "forbidden" }` */
  authorize?: Authorize;
  /** @default () => "local" */
  chooseNode?: ChooseNode;
}

/** A registered service: its handler and visibility. */
export interface ServiceEntry {
  readonly name: string;
  readonly handler: ServiceHandler;
  readonly visibility: Visibility;
}

/** The outcome of `authorize`: allowed, or denied with the reason the caller will see. */
export type Authorization = { readonly allowed: true } | { readonly allowed: false; readonly reason: unknown };

/** What a node needs of a router, whatever its services: what `node.register` takes. */
export interface AnyRouter {
  readonly name: string;
  /** Service names in declaration order; `"all"` lists private services first, as the original does. */
  registeredServices(visibility?: Visibility | "all"): string[];
  /** The handler and visibility of `service`, if this router has it. */
  lookup(service: string): ServiceEntry | undefined;
  /** Runs the router's `authorize` (default deny). Never throws: a throwing `authorize` denies. */
  authorize(message: Message): Promise<Authorization>;
  /** `authorize(message)` as a boolean. */
  authorized(message: Message): Promise<boolean>;
  /** Where the call should run: `"local"` or a node id. */
  chooseNode(message: Message): Promise<string>;
  /** The definition the router was made from (the raw escape hatch; the node reads its callbacks). */
  readonly definition: Readonly<RouterDefinition<ServiceMap, ServiceMap>>;
}

/** A router: a named set of services with one authorization policy. Create it with `defineRouter`. */
export interface Router<TServices extends ServiceMap = ServiceMap, TPrivate extends ServiceMap = ServiceMap>
  extends AnyRouter {
  registeredServices(visibility: "public"): Array<keyof TServices & string>;
  registeredServices(visibility: "private"): Array<keyof TPrivate & string>;
  registeredServices(visibility?: "all"): Array<(keyof TServices | keyof TPrivate) & string>;
  registeredServices(visibility?: Visibility | "all"): string[];
}

function entries(services: ServiceMap | undefined, visibility: Visibility, router: string): ServiceEntry[] {
  return Object.entries(services ?? {}).map(([name, handler]) => {
    if (!isValidName(name)) {
      throw new SdkClientError(
        SdkErrorCode.INVALID_ROUTER,
        `router "${router}": "${name}" is not a valid service name`,
      );
    }
    if (typeof handler !== "function") {
      throw new SdkClientError(SdkErrorCode.INVALID_ROUTER, `router "${router}": service "${name}" is not a function`);
    }
    return Object.freeze({ name, handler, visibility });
  });
}

const ALLOWED: Authorization = Object.freeze({ allowed: true });

/**
 * Defines a router. Authorization is deny-by-default: without `authorize`, every call is answered with
 * `{ status: "error", reason: "forbidden" }`.
 *
 * @example
 * import { defineRouter } from "x3m-system";
 * const greeter = defineRouter({
 *   name: "greeter",
 *   services: { greet: (msg) => msg.ok(`Hello, ${msg.rawRequest.name}!`) },
 *   authorize: (msg) => msg.assigns.user !== undefined || "login required",
 * });
 */
// No defaults on the type parameters: a default stops TypeScript from typing the handlers' `msg` from context.
export function defineRouter<TServices extends ServiceMap, TPrivate extends ServiceMap>(
  definition: RouterDefinition<TServices, TPrivate>,
): Router<TServices, TPrivate> {
  const { name } = definition;
  if (!isValidName(name))
    throw new SdkClientError(SdkErrorCode.INVALID_ROUTER, `"${String(name)}" is not a valid router name`);
  const publicEntries = entries(definition.services, "public", name);
  const privateEntries = entries(definition.privateServices, "private", name);
  const byName = new Map<string, ServiceEntry>();
  for (const entry of [...privateEntries, ...publicEntries]) {
    if (byName.has(entry.name)) {
      throw new SdkClientError(
        SdkErrorCode.DUPLICATE_SERVICE,
        `router "${name}": "${entry.name}" is both public and private`,
      );
    }
    byName.set(entry.name, entry);
  }
  const names = {
    public: publicEntries.map((e) => e.name),
    private: privateEntries.map((e) => e.name),
    all: [...privateEntries, ...publicEntries].map((e) => e.name),
  };
  const router = {
    name,
    definition: Object.freeze({ ...definition }),
    registeredServices: (visibility: "public" | "private" | "all" = "all") => [...names[visibility]],
    lookup: (service: string) => byName.get(service),
    authorize: async (message: Message) => authorizationOf(definition, message),
    authorized: async (message: Message) => (await authorizationOf(definition, message)).allowed,
    chooseNode: async (message: Message) => nodeChoiceOf(definition, message),
  };
  return router as Router<TServices, TPrivate>;
}

/** What a router definition needs to decide a call, with any service map. */
type Callbacks = Pick<RouterDefinition<ServiceMap, ServiceMap>, "authorize" | "chooseNode">;

function toAuthorization(result: unknown): Authorization {
  if (result === true) return ALLOWED;
  return { allowed: false, reason: result === false || result === undefined || result === null ? "forbidden" : result };
}

const DENY_THROWN: Authorization = Object.freeze({ allowed: false, reason: "forbidden" });

/**
 * @internal Runs `authorize` (default deny; a throw or rejection denies). Synchronous when the user's
 * `authorize` is, so a local dispatch to a synchronous service needs no promise hop.
 */
export function authorizationOf(definition: Callbacks, message: Message): Authorization | Promise<Authorization> {
  if (!definition.authorize) return DENY_THROWN;
  let result: unknown;
  try {
    result = definition.authorize(message);
  } catch {
    return DENY_THROWN;
  }
  if (result instanceof Promise) return result.then(toAuthorization, () => DENY_THROWN);
  // Another thenable (a library's own promise type) is awaited as well, never taken for a denial reason.
  if (isThenable(result)) return Promise.resolve(result).then(toAuthorization, () => DENY_THROWN);
  return toAuthorization(result);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
}

/** @internal Runs `chooseNode` (default `"local"`); synchronous when the user's is. May throw. */
export function nodeChoiceOf(definition: Callbacks, message: Message): string | Promise<string> {
  return definition.chooseNode ? definition.chooseNode(message) : "local";
}
