// The playground page: builds message envelopes by hand and posts them to the edge Worker.
const log = document.getElementById("log");
const field = (name) => document.getElementById(name).value;

async function dispatch(serviceName, dryRun = false) {
  const envelope = {
    serviceName,
    id: crypto.randomUUID(),
    dryRun,
    rawRequest: { id: field("id"), owner: field("owner"), amount: Number(field("amount")), inMs: 5000 },
  };
  const response = await fetch("/x3m/dispatch", {
    method: "POST",
    headers: { authorization: "Bearer playground", "content-type": "application/json" },
    body: JSON.stringify(envelope),
  });
  document.getElementById("status").textContent = String(response.status);
  const text = await response.text();
  const reply = text ? JSON.parse(text) : null;
  log.textContent = `${serviceName}${dryRun ? " (dry run)" : ""} → ${JSON.stringify(reply?.response ?? reply, null, 2)}\n\n${log.textContent}`;
}

for (const button of document.querySelectorAll("button[data-service]")) {
  button.addEventListener("click", () => dispatch(button.dataset.service));
}
document.getElementById("validate").addEventListener("click", () => dispatch("deposit", "verbose"));
