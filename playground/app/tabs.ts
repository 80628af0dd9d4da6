// The playground's "tabs and offline" half, bundled to public/tabs.js by scripts/build-playground.ts.
// Every open tab is a node on one BroadcastChannel; accounts run offline-first on IndexedDB and sync to
// the edge Worker that served this page.
import { broadcastChannelTransport } from "../../adapters/broadcast-channel/index.ts";
import { createOfflineClient, type OutboxRow, openIndexedDbEventStore } from "../../adapters/indexeddb/index.ts";
import { createNode, defineRouter, Message } from "../../src/index.ts";
import { account } from "../account.ts";

const TOKEN = { authorization: "Bearer playground" };
const $ = (id: string) => document.getElementById(id) as HTMLElement;
const input = (id: string) => ($(id) as HTMLInputElement).value;
const short = crypto.randomUUID().slice(0, 4);
const tabId = `tab-${short}`;

const store = await openIndexedDbEventStore({
  name: "x3m-playground",
  onVersionChange: () => {
    $("sync-status").textContent = "The database was upgraded in another tab: reload this one.";
  },
});
const offline = createOfflineClient({
  store,
  aggregates: { account },
  endpoint: { url: "/x3m/sync", headers: () => TOKEN },
  // Live pokes: another tab, browser or the edge's alarm changes an account, this page pulls at once.
  live: { url: new URL("/x3m/ws", location.href.replace(/^http/, "ws")).toString() },
  tabId,
  pullIntervalMs: 60_000,
  backoff: { initialMs: 500, maxMs: 5_000 },
});
const accounts = offline.aggregate("account");

const node = createNode({ id: tabId, announceIntervalMs: 5_000 });
const log = (line: string) => {
  $("tab-log").textContent = `${new Date().toLocaleTimeString()} ${line}\n${$("tab-log").textContent}`;
};
node.register(
  defineRouter({
    name: "playground-tab",
    services: {
      // Each tab offers a greeting under its own name, so tabs can call each other.
      [`greet_${short}`]: (msg) => {
        log(`greeted by ${msg.originNode}`);
        return msg.ok(`hello from ${tabId}`);
      },
      open_account: accounts.onNew("open"),
      deposit: accounts.on("deposit"),
      withdraw: accounts.on("withdraw"),
    },
    authorize: () => true,
  }),
);
// A tab that goes away drains first: the other tabs stop choosing it before it says goodbye.
await node.connect(
  broadcastChannelTransport({ channel: "x3m-playground", onPagehide: () => void node.drain({ timeoutMs: 0 }) }),
);
$("tab-id").textContent = tabId;

function renderCluster() {
  const rows = node.peers().map((peer) => {
    const services = Object.entries(node.registry.remoteServices())
      .filter(([, nodes]) => peer in nodes)
      .map(([service]) => service);
    const greet = services.find((service) => service.startsWith("greet_"));
    const button = greet ? ` <button type="button" data-greet="${greet}">Call ${greet}</button>` : "";
    return `<li data-peer="${peer}"><b>${peer}</b>: ${services.join(", ") || "(no services)"}${button}</li>`;
  });
  const html = rows.join("") || "<li>No other tab yet: open this page in a second tab.</li>";
  // Only on change: re-rendering the same list would detach the buttons under the user's pointer.
  if ($("peers").innerHTML !== html) $("peers").innerHTML = html;
}

/** Per account: the last confirmed version shown, so changes that arrive from the edge can be told. */
const shownVersion = new Map<string, number>();
/** Commands this tab made: what arrives from the edge and is not one of them came from elsewhere. */
const madeHere = new Set<string>();

/** A rejection in words: the command, its amount, its message id and the edge's reason. */
function describeRejection(row: OutboxRow): string {
  const { serviceName, rawRequest, id } = row.command;
  const response = row.response;
  const reason =
    response?.status === "validation_error"
      ? response.issues.map((issue) => issue.message).join("; ")
      : response?.status === "error"
        ? JSON.stringify(response.reason)
        : (response?.status ?? "no answer");
  const what = rawRequest.amount === undefined ? serviceName : `${serviceName} of ${rawRequest.amount}`;
  const hint =
    serviceName === "open_account" &&
    (response?.status === "already_exists" || response?.status === "wrong_expected_version")
      ? ` (account ${rawRequest.id} already exists on the edge, opened elsewhere: use "Use existing account")`
      : "";
  return `edge rejected ${what} on ${rawRequest.id} (message ${id.slice(0, 13)}…): ${response?.status ?? "?"}: ${reason}${hint}`;
}

async function renderAccount() {
  const id = input("offline-id");
  const view = await accounts.view(id);
  $("account-state").textContent =
    view.version === -1
      ? `(no account "${id}" in this browser: open a new one, or use an existing one from the edge)`
      : JSON.stringify({ state: view.state, version: view.version, confirmedVersion: view.confirmedVersion }, null, 2);
  // Changes that came from the edge (an alarm, another device), not from this tab, are worth a line.
  const shown = shownVersion.get(id);
  if (shown !== undefined) {
    for (const event of view.confirmed.filter((e) => e.version > shown)) {
      const messageId = event.metadata.messageId;
      if (typeof messageId === "string" && !madeHere.has(messageId)) {
        log(`from the edge: ${JSON.stringify(event.data)} on ${id} (v${event.version})`);
      }
    }
  }
  shownVersion.set(id, view.confirmedVersion);
  const confirmed = view.confirmed.map((e) => `v${e.version} ✔ ${JSON.stringify(e.data)}`);
  const tentative = view.tentative.map(
    (e, i) => `v${view.confirmedVersion + 1 + i} … ${JSON.stringify(e)} (tentative)`,
  );
  $("event-log").textContent = [...confirmed, ...tentative].join("\n") || "(no events)";
  const rows = await offline.outbox();
  $("outbox").textContent =
    rows
      .map(
        (row) =>
          `${row.tab === tabId ? "this tab" : row.tab} · ${row.status} · ${row.command.serviceName} ${JSON.stringify(row.command.rawRequest)}`,
      )
      .join("\n") || "(empty)";
  const rejected = rows.filter((row) => row.status === "rejected");
  const buttons = rejected
    .map(
      (row) =>
        `<button type="button" data-ack="${row.messageId}">Acknowledge ${row.command.serviceName} (${row.response?.status})</button>`,
    )
    .join(" ");
  if ($("rejections").innerHTML !== buttons) $("rejections").innerHTML = buttons;
}

function renderStatus() {
  const s = offline.status();
  $("sync-status").textContent =
    `${s.online ? "online" : "OFFLINE"} · ${s.leader ? "this tab syncs" : "another tab syncs"} · pending ${s.pending} · rejected ${s.rejected} · last sync ${s.lastSyncAt ? new Date(s.lastSyncAt).toLocaleTimeString() : "never"}${s.lastError ? ` · error: ${s.lastError}` : ""}`;
  // The switch is shared by the tabs (and kept across reloads): show what is in force.
  ($("offline-switch") as HTMLInputElement).checked = !s.online;
  $("sync-status").dataset.pending = String(s.pending);
  $("sync-status").dataset.rejected = String(s.rejected);
}

offline.subscribe(() => {
  renderStatus();
  void renderAccount();
});
offline.onRejected((row) => log(describeRejection(row)));
node.telemetry.on("node_joined", renderCluster);
node.telemetry.on("node_left", renderCluster);
node.telemetry.on("register_local_services", renderCluster);
setInterval(renderCluster, 1_000);

async function command(service: string) {
  const id = input("offline-id");
  const message = Message.new(service, {
    rawRequest: { id, owner: input("offline-owner"), amount: Number(input("offline-amount")) },
  });
  madeHere.add(message.id);
  const reply = await node.dispatch(message);
  const response = reply.response;
  log(`${service} → ${JSON.stringify(response)}`);
  if (response?.status === "not_found") {
    log(
      `this browser does not know account ${id}: open a new one, or "Use existing account" to fetch it from the edge`,
    );
  }
  await renderAccount();
}

document.addEventListener("click", async (event) => {
  const target = event.target as HTMLElement;
  const greet = target.dataset.greet;
  if (greet) {
    const reply = await node.dispatch(Message.new(greet));
    log(`${greet} → ${JSON.stringify(reply.response)}`);
  }
  const offlineCommand = target.dataset.offline;
  if (offlineCommand) await command(offlineCommand);
  const acknowledged = target.dataset.ack;
  if (acknowledged) {
    await offline.acknowledge(acknowledged);
    log(`acknowledged the rejection of message ${acknowledged.slice(0, 13)}…`);
    await renderAccount();
  }
});
$("use-existing").addEventListener("click", async () => {
  const id = input("offline-id");
  // An account opened elsewhere: track it, so every sync brings its events (and pokes announce changes).
  await offline.track("account", id);
  await offline.syncNow();
  log(`using account ${id} from the edge`);
  await renderAccount();
});
$("offline-switch").addEventListener("change", (event) => {
  offline.setOnline((event.target as HTMLInputElement).checked ? false : "auto");
});
$("close-on-edge").addEventListener("click", async () => {
  // Offline first: the close must not reach this tab before its deposit is queued, or the deposit would
  // simply be refused here (a closed account takes no deposits) and never reach the edge.
  offline.setOnline(false);
  const id = input("offline-id");
  // As another device would: straight to the edge, around this tab's queue.
  const reply = await fetch("/x3m/dispatch", {
    method: "POST",
    headers: { ...TOKEN, "content-type": "application/json" },
    body: JSON.stringify(Message.new("close_account", { rawRequest: { id } }).toJSON()),
  });
  log(
    `offline now; another device closed ${id} on the edge (HTTP ${reply.status}). Deposit (it queues here), then untick "offline": the edge refuses the deposit`,
  );
});
$("deposit-later").addEventListener("click", async () => {
  const id = input("offline-id");
  await offline.track("account", id);
  const reply = await fetch("/x3m/dispatch", {
    method: "POST",
    headers: { ...TOKEN, "content-type": "application/json" },
    body: JSON.stringify(
      Message.new("deposit_later", {
        rawRequest: { id, amount: Number(input("offline-amount")), inMs: 3_000 },
      }).toJSON(),
    ),
  });
  log(`deposit_later (edge alarm in 3 s) → HTTP ${reply.status}`);
});
$("offline-id").addEventListener("change", () => void renderAccount());
renderCluster();
renderStatus();
await renderAccount();
document.body.dataset.tabsReady = "true";
