// The fleet: counts at a glance, the runners page by page (keyset pages, so
// the 100,000th runner is as quick to reach as the first), deleting the ones
// selected behind a confirmation, and all of it live through WatchEvents.
// Filters live in the address bar, so a reload or a shared link keeps them.

import { ApiError, call, watch } from "./api.js";
import { PROVIDER_NAMES, ago, exact, h, phase, provider } from "./format.js";

const PAGE_SIZE = 50;

function badge(phaseName) {
  const [label, tone] = phase(phaseName);
  return h("span", { class: `badge ${tone}` }, label);
}

function tile(label, value, tone = "") {
  return h("div", { class: `tile ${tone}` }, h("span", { class: "count" }, String(value ?? 0)), h("span", {}, label));
}

/** Re-runs `refresh` shortly after the runners change (many changes: once). */
async function followChanges(signal, refresh, resourceIds = []) {
  let pending = null;
  const request = {
    organization: true,
    resourceTypeFilters: [{ resourceType: "RESOURCE_TYPE_RUNNER", resourceIds }],
  };
  while (!signal.aborted) {
    try {
      for await (const _event of watch(request, { signal })) {
        clearTimeout(pending);
        pending = setTimeout(refresh, 250);
      }
    } catch (e) {
      if (signal.aborted) return;
    }
    // the stream ended (a restart, a gap): list again, then watch again
    refresh();
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

export function fleetView({ main, signal, params, navigate, announce }) {
  const tiles = h("section", { class: "tiles", "aria-label": "Runners by state" });
  const table = h("tbody");
  const status = h("p", { class: "help", role: "status" });
  const selected = new Set();
  const deleteButton = h("button", { type: "button", class: "danger", disabled: true }, "Delete 0 runners");
  const providerSelect = h(
    "select",
    { id: "provider" },
    h("option", { value: "" }, "Any provider"),
    ...PROVIDER_NAMES.map((p) => h("option", { value: p, selected: params.get("provider") === p }, provider(p))),
  );
  // the keyset tokens of the pages before this one, to page back
  const before = (params.get("before") || "").split(",").filter(Boolean);
  const pageToken = params.get("page") || "";
  const previous = h("button", { type: "button", disabled: before.length === 0 && !pageToken }, "Previous");
  const next = h("button", { type: "button", disabled: true }, "Next");
  let nextToken = "";

  function setParams(change) {
    const p = new URLSearchParams(location.search);
    for (const [key, value] of Object.entries(change)) {
      if (value) p.set(key, value);
      else p.delete(key);
    }
    const query = p.toString();
    navigate(`/fleet${query ? `?${query}` : ""}`);
  }

  providerSelect.addEventListener("change", () => setParams({ provider: providerSelect.value, page: "", before: "" }));
  next.addEventListener("click", () =>
    setParams({ page: nextToken, before: [...before, pageToken || "-"].join(",") }),
  );
  previous.addEventListener("click", () => {
    const back = [...before];
    const token = back.pop() || "";
    setParams({ page: token === "-" ? "" : token, before: back.join(",") });
  });

  function updateSelection() {
    deleteButton.disabled = selected.size === 0;
    deleteButton.textContent = `Delete ${selected.size} runner${selected.size === 1 ? "" : "s"}`;
  }

  const dialog = h("dialog", { "aria-labelledby": "confirm-title" });
  deleteButton.addEventListener("click", () => {
    const ids = [...selected];
    if (ids.length === 0) return;
    const confirmButton = h("button", { type: "button", class: "danger" }, `Delete ${ids.length} runner${ids.length === 1 ? "" : "s"}`);
    const cancel = h("button", { type: "button" }, "Cancel");
    cancel.addEventListener("click", () => dialog.close());
    confirmButton.addEventListener("click", async () => {
      dialog.close();
      try {
        const answer = await call("paddock.v1.FleetService/DeleteRunners", { runnerIds: ids, force: false });
        const refused = (answer.deletions || []).filter((d) => d.code);
        selected.clear();
        updateSelection();
        const text = refused.length
          ? `${ids.length - refused.length} deleted; ${refused.length} refused: ${refused.map((d) => d.message).join("; ")}`
          : `${ids.length} deleted`;
        status.textContent = text;
        announce(text);
        refresh();
      } catch (e) {
        status.textContent = e.message;
      }
    });
    dialog.replaceChildren(
      h("h2", { id: "confirm-title" }, `Delete ${ids.length} runner${ids.length === 1 ? "" : "s"}?`),
      h("p", {}, "Each is asked to clean up and then removed; those you may not delete are left as they are."),
      h("div", { class: "actions" }, cancel, confirmButton),
    );
    dialog.showModal();
    cancel.focus();
  });

  async function refresh() {
    try {
      const [summary, page] = await Promise.all([
        call("paddock.v1.FleetService/GetFleetSummary", {}, { signal }),
        call(
          "gitpod.v1.RunnerService/ListRunners",
          {
            pagination: { pageSize: PAGE_SIZE, token: pageToken },
            filter: params.get("provider") ? { providers: [params.get("provider")] } : {},
          },
          { signal },
        ),
      ]);
      tiles.replaceChildren(
        tile("total", summary.total),
        tile("active", summary.active, "good"),
        tile("inactive", summary.inactive),
        tile("degraded", summary.degraded, "warn"),
        tile("deleting", summary.deleting, "busy"),
        tile("never connected", summary.neverConnected),
        tile("stale", summary.stale),
        tile("outdated", summary.outdated, "warn"),
      );
      const runners = page.runners || [];
      nextToken = page.pagination?.nextToken || "";
      next.disabled = !nextToken;
      table.replaceChildren(
        ...runners.map((r) => {
          const box = h("input", {
            type: "checkbox",
            "aria-label": `Select ${r.name}`,
            checked: selected.has(r.runnerId),
          });
          box.addEventListener("change", () => {
            if (box.checked) selected.add(r.runnerId);
            else selected.delete(r.runnerId);
            updateSelection();
          });
          const updated = r.status?.updatedAt;
          return h(
            "tr",
            { "data-runner": r.runnerId },
            h("td", {}, box),
            h("td", {}, h("a", { href: `/runners/${r.runnerId}` }, r.name)),
            h("td", {}, provider(r.provider)),
            h("td", {}, badge(r.status?.phase)),
            h("td", { title: exact(updated) }, ago(updated)),
            h("td", {}, r.status?.version || "—"),
            h("td", {}, r.status?.region || r.spec?.configuration?.region || "—"),
          );
        }),
      );
      if (runners.length === 0) table.replaceChildren(h("tr", {}, h("td", { colspan: 7 }, "No runners here.")));
    } catch (e) {
      if (e.name === "AbortError") return;
      status.textContent = e instanceof ApiError ? `${e.code}: ${e.message}` : String(e);
    }
  }

  main.replaceChildren(
    h("h1", {}, "Fleet"),
    tiles,
    h(
      "div",
      { class: "toolbar" },
      h("label", { for: "provider" }, "Provider"),
      providerSelect,
      h("span", { class: "grow" }),
      deleteButton,
    ),
    status,
    h(
      "div",
      { class: "scroll" },
      h(
        "table",
        {},
        h("caption", { class: "visually-hidden" }, "Runners"),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Select")),
            h("th", { scope: "col" }, "Name"),
            h("th", { scope: "col" }, "Provider"),
            h("th", { scope: "col" }, "State"),
            h("th", { scope: "col" }, "Last status"),
            h("th", { scope: "col" }, "Version"),
            h("th", { scope: "col" }, "Region"),
          ),
        ),
        table,
      ),
    ),
    h("nav", { class: "pager", "aria-label": "Pages" }, previous, next),
    dialog,
  );
  refresh();
  followChanges(signal, refresh);
}

export function runnerView({ main, signal, runnerId }) {
  const details = h("dl", { class: "details" });
  const title = h("h1", {}, "Runner");
  const status = h("p", { class: "help", role: "status" });

  async function refresh() {
    try {
      const { runner } = await call("gitpod.v1.RunnerService/GetRunner", { runnerId }, { signal });
      title.textContent = runner.name;
      const s = runner.status || {};
      const row = (label, value) => [h("dt", {}, label), h("dd", {}, value)];
      details.replaceChildren(
        ...row("State", badge(s.phase)),
        ...row("Provider", provider(runner.provider)),
        ...row("Region", s.region || runner.spec?.configuration?.region || "—"),
        ...row("Version", s.version || "—"),
        ...row("Last status", h("span", { title: exact(s.updatedAt) }, ago(s.updatedAt))),
        ...row("Message", s.message || "—"),
        ...row("Created", exact(runner.createdAt)),
        ...row("Id", h("code", {}, runner.runnerId)),
      );
    } catch (e) {
      if (e.name === "AbortError") return;
      status.textContent = e.code === "not_found" ? "This runner does not exist (or is not yours to see)." : e.message;
    }
  }
  main.replaceChildren(h("p", {}, h("a", { href: "/fleet" }, "← Fleet")), title, status, details);
  refresh();
  followChanges(signal, refresh, [runnerId]);
}
