import { describe, it } from "vitest";
import { createMemoryAlarmStore } from "../../src/scheduler/index.ts";
import { alarmStoreContract } from "../../src/testing/alarm-store-contract.ts";

describe("alarm store contract: memory", () => {
  for (const contractCase of alarmStoreContract(() => createMemoryAlarmStore())) {
    it(contractCase.name, () => contractCase.run());
  }
});
