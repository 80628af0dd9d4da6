// The alarm clock's own rules, on a recording storage: one alarm for every lane, armed to the earliest timer.
import { describe, expect, it } from "vitest";
import { createAlarmClock, type DurableAlarmStorage } from "../../adapters/durable-objects/index.ts";

function recordingStorage() {
  const calls: string[] = [];
  let alarm: number | null = null;
  const storage: DurableAlarmStorage = {
    setAlarm: async (at) => {
      alarm = at;
      calls.push(`set ${at}`);
    },
    getAlarm: async () => alarm,
    deleteAlarm: async () => {
      alarm = null;
      calls.push("delete");
    },
  };
  return { storage, calls, setStored: (at: number | null) => (alarm = at) };
}

describe("alarm clock", () => {
  it("arms the one alarm to the earliest timer of all lanes and re-arms as they change", () => {
    let now = 1_000;
    const { storage, calls } = recordingStorage();
    const clock = createAlarmClock(storage, { now: () => now });
    const cancelLate = clock.lane("scheduler").setTimeout(() => {}, 500);
    clock.lane("idle").setTimeout(() => {}, 200);
    expect(calls).toEqual(["set 1500", "set 1200"]);
    expect(clock.lanes()).toEqual({ scheduler: 1500, idle: 1200 });
    cancelLate();
    expect(calls).toEqual(["set 1500", "set 1200"]); // the earliest did not change
    now = 1_200;
    clock.fire();
    expect(calls).toEqual(["set 1500", "set 1200"]); // the spent alarm needs no delete
    expect(clock.lanes()).toEqual({});
    const cancel = clock.setTimeout(() => {}, 50);
    cancel();
    expect(calls.slice(-2)).toEqual(["set 1250", "delete"]); // a cancelled last timer clears the alarm
  });

  it("fires due timers in time order, keeps the others, and never arms before now + 1", () => {
    let now = 0;
    const { storage, calls } = recordingStorage();
    const clock = createAlarmClock(storage, { now: () => now });
    const fired: string[] = [];
    clock.setTimeout(() => fired.push("b"), 20);
    clock.setTimeout(() => fired.push("a"), 10);
    clock.setTimeout(() => fired.push("later"), 100);
    clock.setTimeout(() => {
      throw new Error("a broken lane");
    }, 15);
    now = 50;
    clock.fire();
    expect(fired).toEqual(["a", "b"]);
    clock.setTimeout(() => fired.push("now"), 0); // from inside alarm(): setAlarm(now) would be dropped by workerd
    expect(calls.at(-1)).toBe("set 51");
    now = 51;
    clock.fire();
    expect(fired).toEqual(["a", "b", "now"]);
    expect(calls.at(-1)).toBe("set 100");
  });

  it("fire() answers how many timers ran; runDue() runs those due since within the same alarm call", () => {
    let now = 0;
    const { storage, calls } = recordingStorage();
    const clock = createAlarmClock(storage, { now: () => now });
    const fired: string[] = [];
    clock.setTimeout(() => {
      fired.push("first");
      clock.setTimeout(() => fired.push("next page"), 0); // what a scheduler's refill arms: due at once
    }, 10);
    clock.setTimeout(() => fired.push("tick"), 1_000);
    now = 10;
    expect(clock.fire()).toBe(1);
    expect(calls.at(-1)).toBe("set 11"); // the next page's alarm, in case the call ends here
    expect(clock.runDue()).toBe(1);
    expect(fired).toEqual(["first", "next page"]);
    expect(calls.at(-1)).toBe("set 1000"); // the pending alarm moved on to the next timer, not dropped
    expect(clock.runDue()).toBe(0);
  });

  it("the watchdog re-arms an alarm that storage lost or left in the past", async () => {
    let now = 0;
    const { storage, calls, setStored } = recordingStorage();
    const clock = createAlarmClock(storage, { now: () => now });
    clock.setTimeout(() => {}, 10_000);
    setStored(null);
    await clock.watchdog();
    expect(calls).toEqual(["set 10000", "set 10000"]);
    now = 20_000;
    setStored(5_000);
    await clock.watchdog();
    expect(calls.at(-1)).toBe("set 20001");
  });
});
