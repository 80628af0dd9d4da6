// Scheduled delivery on a Durable Object's one alarm: alarms in SQLite, delivered at least once and
// exactly once per schedule here, also across an eviction; failures retried, then dead-lettered.
import { evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { aggregateServices, schedulerClient } from "../../adapters/durable-objects/index.ts";
import { createNode, type DeadLetter, Message } from "../../src/index.ts";
import { account } from "../fixtures/account.ts";
import { guardedBankRouter } from "./guarded-bank.ts";

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

describe("scheduler object under an authorizing router (the user-app reproduction)", () => {
  const ada = { user: "ada" };
  const guardedStub = (name: string) => env.GUARDED_SCHEDULER.get(env.GUARDED_SCHEDULER.idFromName(name));
  const balanceOf = async (id: string) => ((await accounts.state(id)) as { state: { balance: number } }).state.balance;

  it("a deposit scheduled from inside a service handler runs on behalf of its caller when the alarm fires", async () => {
    const id = await openAccount();
    const name = unique("guarded");
    const app = createNode({ id: "app", announceIntervalMs: 0 });
    app.register(guardedBankRouter(env));
    const request = Message.new("guarded_deposit_later", { rawRequest: { id, amount: 5, scheduler: name } });
    const reply = await app.dispatch(request.assign("principal", ada));
    expect(reply.response).toMatchObject({ status: "ok" });
    const stub = guardedStub(name);
    await runDurableObjectAlarm(stub);
    expect(await accounts.state(id)).toMatchObject({ version: 1, state: { balance: 5 } });
    expect(await deadLettersOf(stub)).toEqual([]);
  });

  it("a denied delivery is a dead letter at once, with the denial; the account is untouched", async () => {
    const id = await openAccount();
    const stub = guardedStub(unique("guarded"));
    const deposit = Message.new("guarded_deposit", { rawRequest: { id, amount: 5 } }).assign("principal", {
      user: "mallory",
    });
    await schedulerClient(stub).schedule(deposit, { inMs: 0 });
    await runDurableObjectAlarm(stub);
    const letters = await deadLettersOf(stub);
    expect(letters.map((l) => [l.alarm.id, l.alarm.attempts, l.reason])).toEqual([
      [deposit.id, 1, { status: "error", reason: "forbidden", denied: true }],
    ]);
    expect(letters[0]?.alarm.message.assigns.principal).toEqual({ user: "mallory" });
    expect(await accounts.state(id)).toMatchObject({ version: 0, state: { balance: 0 } });
    expect(await stub.lanes()).toEqual({ scheduler: expect.any(Number) }); // nothing left to retry
  });

  it("a retry verdict's replacement message reaches the service (the original's redelivered flag)", async () => {
    const id = await openAccount();
    const stub = guardedStub(unique("guarded"));
    const message = Message.new("guarded_deposit_when_redelivered", { rawRequest: { id, amount: 7 } });
    await schedulerClient(stub).schedule(message.assign("principal", ada), { inMs: 0 });
    for (let runs = 0; runs < 10 && (await balanceOf(id)) === 0; runs++) {
      await runDurableObjectAlarm(stub);
      await pause(3); // the retry is due 1 ms later
    }
    expect(await accounts.state(id)).toMatchObject({ version: 1, state: { balance: 7 } });
    expect(await deadLettersOf(stub)).toEqual([]);
  });

  it("after an eviction it holds at most maxInMemory (5) alarms and delivers a backlog of 30 through its alarm, each once", async () => {
    const id = await openAccount();
    const stub = guardedStub(unique("guarded"));
    const scheduler = schedulerClient(stub);
    for (let i = 0; i < 30; i++) {
      const deposit = Message.new("guarded_deposit", { rawRequest: { id, amount: 1 } });
      await scheduler.schedule(deposit.assign("principal", ada), { inMs: 0 });
    }
    expect(await stub.inMemoryCount()).toBeLessThanOrEqual(5);
    await evictDurableObject(stub);
    const held = [await stub.inMemoryCount()];
    for (let runs = 0; runs < 60 && (await balanceOf(id)) < 30; runs++) {
      await runDurableObjectAlarm(stub);
      held.push(await stub.inMemoryCount());
      await pause(2);
    }
    expect(await accounts.state(id)).toMatchObject({ version: 30, state: { balance: 30 } });
    expect(Math.max(...held)).toBeLessThanOrEqual(5);
    expect(await deadLettersOf(stub)).toEqual([]);
  });
});
