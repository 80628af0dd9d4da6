// The playground's bank account: one aggregate definition that the edge Worker (worker.ts, one Durable
// Object per account) and the page (app/tabs.ts, offline on IndexedDB) both import, so the commands a tab
// runs offline are the very ones the edge runs again when they sync. In your own project, import from
// "x3m-system" instead of the source paths used inside this repository.
import { z } from "zod";
import { defineAggregate, Response } from "../src/index.ts";

export type AccountEvent =
  | { type: "AccountOpened"; id: string; owner: string }
  | { type: "Deposited"; amount: number }
  | { type: "Withdrawn"; amount: number }
  | { type: "WithdrawalRejected"; amount: number }
  | { type: "AccountClosed" }
  | { type: "OwnerChanged"; owner: string };

export interface Account {
  id?: string;
  owner?: string;
  balance: number;
  closed: boolean;
  rejections: number;
}

const amount = z.object({ amount: z.number().positive() });

export const account = defineAggregate({
  name: "account",
  initialState: (): Account => ({ balance: 0, closed: false, rejections: 0 }),
  apply(state: Account, event: AccountEvent): Account {
    switch (event.type) {
      case "AccountOpened":
        return { ...state, id: event.id, owner: event.owner };
      case "Deposited":
        return { ...state, balance: state.balance + event.amount };
      case "Withdrawn":
        return { ...state, balance: state.balance - event.amount };
      case "WithdrawalRejected":
        return { ...state, rejections: state.rejections + 1 };
      case "AccountClosed":
        return { ...state, closed: true };
      case "OwnerChanged":
        return { ...state, owner: event.owner };
    }
  },
  commands: {
    open: {
      validate: z.object({ id: z.string(), owner: z.string().min(1) }),
      handle: (msg) =>
        msg.addEvent({ type: "AccountOpened", id: msg.request.id, owner: msg.request.owner }).created(msg.request.id),
    },
    deposit: {
      // State-aware validation: a closed account takes no deposits.
      validate: (msg, state) =>
        state.closed
          ? msg.return(Response.validationError([{ message: "account is closed", path: [] }]))
          : msg.putRequest(amount),
      handle: (msg) => msg.addEvent({ type: "Deposited", amount: msg.request.amount }).ok(),
    },
    withdraw: {
      validate: amount,
      handle: (msg, state) =>
        msg.request.amount > state.balance
          ? msg.addEvent({ type: "WithdrawalRejected", amount: msg.request.amount }).error("insufficient_funds")
          : msg.addEvent({ type: "Withdrawn", amount: msg.request.amount }).ok(),
    },
    withdraw_all_and_close: (msg, state) =>
      msg.addEvent({ type: "Withdrawn", amount: state.balance }).addEvent({ type: "AccountClosed" }).ok(state.balance),
    open_or_change_owner: (msg, state) => {
      const owner = String(msg.rawRequest.owner);
      if (state.id === undefined) {
        const id = msg.aggregateMeta.id ?? "";
        return msg.addEvent({ type: "AccountOpened", id, owner }).created(id);
      }
      return state.owner === owner ? msg.ok() : msg.addEvent({ type: "OwnerChanged", owner }).ok();
    },
  },
});
