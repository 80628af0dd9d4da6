/** The part of `navigator.locks` the offline client uses (tests and runtimes without Web Locks pass `null`). */
export interface LockManagerLike {
  request(
    name: string,
    options: { mode?: "exclusive" | "shared"; signal?: AbortSignal },
    callback: (lock: unknown) => Promise<unknown> | unknown,
  ): Promise<unknown>;
}
