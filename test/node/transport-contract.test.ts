import { describe, it } from "vitest";
import { createInProcessHub } from "../../src/index.ts";
import { transportContract } from "../../src/testing/index.ts";

describe("transport contract: in-process hub", () => {
  for (const contractCase of transportContract(() => {
    const hub = createInProcessHub();
    return { transports: [hub.transport(), hub.transport(), hub.transport()], dispose: () => {} };
  })) {
    it(contractCase.name, () => contractCase.run());
  }
});
