// Scheduled delivery on a Durable Object's one alarm: alarms in SQLite, delivered at least once and
// exactly once per schedule here, also across an eviction; failures retried, then dead-lettered.
import { evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { aggregateServices, schedulerClient } from "../../adapters/durable-objects/index.ts";
import { type DeadLetter, Message } from "../../src/index.ts";
import { account } from "../fixtures/account.ts";

const accounts = aggregateServices(env.ACCOUNTS, account);
const unique = (name: string) => `${name}-${crypto.randomUUID()}`;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function openAccount(): Promise<string> {
  const id = unique("acc");
  await accounts.onNew("open")(Message.new("open", { rawRequest: { id, owner: "ada" } }));
  return id;
}

function schedulerStub() {
  return env.SCHEDULER.get(env.SCHEDULER.idFromName(unique("scheduler")));
}

/** Workers' RPC typing cannot express `unknown` payloads, so the dead letters are typed here. */
const deadLettersOf = async (stub: ReturnType<typeof schedulerStub>) =>
  (await stub.deadLetters()) as unknown as DeadLetter[];

describe("scheduler object", () => {
  it("delivers a due message when the object's alarm fires, once", async () => {
    const id = await openAccount();
    const scheduler = schedulerStub();
    await scheduler.schedule(Message.new("deposit", { rawRequest: { id, amount: 5 } }).toJSON(), { inMs: 0 });
    expect(await runDurableObjectAlarm(scheduler)).toBe(true);
    expect(await accounts.state(id)).toMatchObject({ version: 1, state: { balance: 5 } });
    await runDurableObjectAlarm(scheduler);
    expect(await accounts.state(id)).toMatchObject({ version: 1 });
  });

  it("fires 300 schedules through the one alarm, each exactly once", async () => {
    const id = await openAccount();
    const scheduler = schedulerStub();
    for (let i = 0; i < 300; i++) {
      await scheduler.schedule(Message.new("deposit", { rawRequest: { id, amount: 1 } }).toJSON(), { inMs: 0 });
    }
    await runDurableObjectAlarm(scheduler);
    await runDurableObjectAlarm(scheduler);
    expect(await accounts.state(id)).toMatchObject({ version: 300, state: { balance: 300 } });
  });

  it("survives an eviction: the restarted object reloads its alarms from SQLite and delivers them", async () => {
    const id = await openAccount();
    const scheduler = schedulerStub();
    await scheduler.schedule(Message.new("deposit", { rawRequest: { id, amount: 7 } }).toJSON(), { inMs: 0 });
    await evictDurableObject(scheduler);
    expect(await runDurableObjectAlarm(scheduler)).toBe(true);
    expect(await accounts.state(id)).toMatchObject({ version: 1, state: { balance: 7 } });
  });

  it("a delivery that keeps failing is retried, then dead-lettered after the maximum", async () => {
    const scheduler = schedulerStub();
    const message = Message.new("explode");
    await scheduler.schedule(message.toJSON(), { inMs: 0 });
    for (let i = 0; i < 6 && (await deadLettersOf(scheduler)).length === 0; i++) {
      await runDurableObjectAlarm(scheduler);
      await pause(3); // the retries are due 1 ms later
    }
    const [letter] = await deadLettersOf(scheduler);
    expect(letter?.alarm).toMatchObject({ id: message.id, attempts: 3 });
    expect(letter?.reason).toMatchObject({ status: "error" });
    expect(await scheduler.lanes()).toEqual({ scheduler: expect.any(Number) }); // only the window reload tick is left
  });

  it("repeats through schedulerClient(stub).repeat (the memory scheduler's signature) until the handle cancels it", async () => {
    const id = await openAccount();
    const stub = schedulerStub();
    const scheduler = schedulerClient(stub);
    const message = Message.new("deposit", { rawRequest: { id, amount: 1 } });
    const handle = await scheduler.repeat(message, { everyMs: 1, firstInMs: 0 });
    expect(handle.id).toBe(message.id);
    const balance = async () => ((await accounts.state(id)) as { state: { balance: number } }).state.balance;
    // Each alarm (run here, or fired by the runtime on its own) delivers the occurrence that was due.
    for (let runs = 0; runs < 50 && (await balance()) < 3; runs++) {
      await runDurableObjectAlarm(stub);
      await pause(3); // the next occurrence is due 1 ms after the last one
    }
    expect(await handle.cancel()).toBe(true);
    expect(await handle.cancel()).toBe(false);
    await runDurableObjectAlarm(stub); // lets a delivery that was under way at the cancel finish
    // Every occurrence had its own message id, so none was taken for a re-delivery: one deposit each.
    const stopped = await accounts.state(id);
    expect(stopped).toMatchObject({ version: (stopped as { state: { balance: number } }).state.balance });
    expect((stopped as { version: number }).version).toBeGreaterThanOrEqual(3);
    await runDurableObjectAlarm(stub);
    await pause(3);
    expect(await accounts.state(id)).toEqual(stopped);
    expect(await stub.lanes()).toEqual({ scheduler: expect.any(Number) }); // only the window reload tick is left
  });
});
