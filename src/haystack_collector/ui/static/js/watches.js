// Watches: every watch with its notifications, the failures (retry), the recent deliveries.
"use strict";
(() => {
  const H = Haystack;
  const { el } = H;

  const counted = (counts) => Object.entries(counts || {}).map(([status, n]) => n + " " + status).join(", ") || "none yet";

  function itemLink(n) {
    if (String(n.event || "").startsWith("alert:")) return n.title || "system alert";
    return el("a", { href: "/items/" + n.item_id }, n.title || n.uri || "#" + n.item_id);
  }

  async function remove(watch) {
    if (!(await H.confirmAction("Remove the watch " + watch.name + " and its notifications?"))) return;
    if (await H.write("/api/watches/" + watch.watch_id, { method: "DELETE" }, "Removed " + watch.name + ".")) await load();
  }

  async function retry(n) {
    if (await H.write("/api/notifications/" + n.notification_id + "/retry", { method: "POST" }, "Notification " + n.notification_id + " will be sent again.")) await load();
  }

  async function load() {
    const watches = H.asList(await H.api("/api/watches"), "watches");
    H.fillTable(document.getElementById("watches"), watches, [
      ["Name", (w) => el("span", { class: "watch-name" }, w.name)],
      ["Filter", (w) => w.described],
      ["Events", (w) => w.events.join(", ") + (w.alerts ? " + system alerts" : "") + (w.enabled ? "" : " (disabled)")],
      ["Channels", (w) => w.channels.join(" ")],
      ["Notifications", (w) => counted(w.notifications)],
      ["Last sent", (w) => H.fmtTime(w.last_sent)],
      ["", (w) => el("button", { type: "button", class: "danger", onclick: () => remove(w) }, "Remove")],
    ], "no watches yet");
    const failures = [];
    for (const status of ["failed", "uncertain"]) {
      failures.push(...H.asList(await H.api("/api/notifications", { query: { status, limit: 100 } }), "notifications"));
    }
    failures.sort((a, b) => b.notification_id - a.notification_id);
    H.fillTable(document.getElementById("failures"), failures, [
      ["Id", (n) => n.notification_id],
      ["Watch", (n) => n.watch],
      ["Event", (n) => n.event],
      ["Item", itemLink],
      ["Status", (n) => H.badge(n.status)],
      ["Attempts", (n) => n.attempts],
      ["Error", (n) => n.error],
      ["", (n) => el("button", { type: "button", onclick: () => retry(n) }, "Send again")],
    ], "no failures");
    const sent = H.asList(await H.api("/api/notifications", { query: { status: "sent", limit: 20 } }), "notifications");
    H.fillTable(document.getElementById("deliveries"), sent, [
      ["Id", (n) => n.notification_id],
      ["Watch", (n) => n.watch],
      ["Event", (n) => n.event],
      ["Item", itemLink],
      ["Sent", (n) => H.fmtTime(n.sent)],
    ], "nothing sent yet");
  }

  document.addEventListener("DOMContentLoaded", () => {
    H.every(5000, load);
  });
})();
