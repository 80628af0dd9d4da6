// The playground's "tabs and offline" half, bundled to public/tabs.js by scripts/build-playground.ts.
// Every open tab is a node on one BroadcastChannel; accounts run offline-first on IndexedDB and sync to
// the edge Worker that served this page.
import { broadcastChannelTransport } from "../../adapters/broadcast-channel/index.ts";
import { createOfflineClient, openIndexedDbEventStore } from "../../adapters/indexeddb/index.ts";
import { createNode, defineRouter, Message } from "../../src/index.ts";
import { account } from "../../test/fixtures/account.ts";

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

async function renderAccount() {
  const id = input("offline-id");
  const view = await accounts.view(id);
  $("account-state").textContent = JSON.stringify(
    { state: view.state, version: view.version, confirmedVersion: view.confirmedVersion },
    null,
    2,
  );
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
          `${row.status.padEnd(8)} ${row.command.serviceName} ${JSON.stringify(row.command.rawRequest)}${row.response && row.status === "rejected" ? ` → ${row.response.status}` : ""}`,
      )
      .join("\n") || "(empty)";
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
offline.onRejected((row) => log(`edge rejected ${row.command.serviceName}: ${JSON.stringify(row.response)}`));
node.telemetry.on("node_joined", renderCluster);
node.telemetry.on("node_left", renderCluster);
node.telemetry.on("register_local_services", renderCluster);
setInterval(renderCluster, 1_000);

async function command(service: string) {
  const id = input("offline-id");
  await offline.track("account", id);
  const reply = await node.dispatch(
    Message.new(service, {
      rawRequest: { id, owner: input("offline-owner"), amount: Number(input("offline-amount")) },
    }),
  );
  log(`${service} → ${JSON.stringify(reply.response)}`);
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
});
$("offline-switch").addEventListener("change", (event) => {
  offline.setOnline((event.target as HTMLInputElement).checked ? false : "auto");
});
$("close-on-edge").addEventListener("click", async () => {
  // As another device would: straight to the edge, around this tab's queue.
  const reply = await fetch("/x3m/dispatch", {
    method: "POST",
    headers: { ...TOKEN, "content-type": "application/json" },
    body: JSON.stringify(Message.new("close_account", { rawRequest: { id: input("offline-id") } }).toJSON()),
  });
  log(`close_account on the edge → HTTP ${reply.status}`);
  await offline.syncNow();
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
