// The fleet: counts at a glance, the runners in keyset pages (the 100,000th
// runner is as quick to reach as the first), filtered on the server by
// state, provider, region, version drift and a search, deleting the ones
// selected behind a confirmation — all of it live through WatchEvents.
// Filters and the page live in the address bar, so a reload or a shared link
// keeps them.

import { ApiError, call, followChanges } from "./api.js";
import {
  DRIFT_NAMES,
  FLEET_STATES,
  PROVIDER_NAMES,
  ago,
  confirmFirst,
  drift,
  driftOf,
  exact,
  fleetState,
  fleetStateOf,
  h,
  int,
  provider,
  providerOf,
  providerWord,
  urlWith,
} from "./format.js";

const PAGE_SIZE = 50;
// page tokens kept for "Previous": beyond these, "First page" goes back
const MAX_BACK = 20;

export function stateBadge(state) {
  const [label, tone] = fleetState(state);
  return h("span", { class: `badge ${tone}` }, label);
}

/** A count (a number: read the answer with int()) and what it counts, linking to its list. */
function tile(label, count, tone, href) {
  return h(
    "a",
    { class: `tile ${tone}`, href, "aria-label": `${count} ${label}` },
    h("span", { class: "count" }, String(count)),
    h("span", {}, label),
  );
}

/** The request's filter from the address bar's words. */
function filterOf(params) {
  const filter = {};
  const state = fleetStateOf(params.get("state"));
  if (state) filter.states = [state];
  const p = providerOf(params.get("provider"));
  if (p) filter.providers = [p];
  if (params.get("region")) filter.regions = [params.get("region")];
  const d = driftOf(params.get("version"));
  if (d) filter.drift = d;
  if (params.get("q")) filter.search = params.get("q");
  return filter;
}

function select(id, current, none, options) {
  return h(
    "select",
    { id },
    h("option", { value: "" }, none),
    ...options.map(([value, label]) => h("option", { value, selected: current === value }, label)),
  );
}

export function fleetView({ main, signal, params, navigate, announce }) {
  const tiles = h("section", { class: "tiles", "aria-label": "Runners by state" });
  const table = h("tbody", { role: "rowgroup" });
  const status = h("p", { class: "help", role: "status" });
  const selected = new Set();
  const deleteButton = h("button", { type: "button", class: "danger", disabled: true }, "Delete 0 runners");
  const stateSelect = select(
    "state",
    params.get("state") || "",
    "Any state",
    FLEET_STATES.map((s) => [fleetState(s)[2], fleetState(s)[0]]),
  );
  const providerSelect = select(
    "provider",
    params.get("provider") || "",
    "Any provider",
    PROVIDER_NAMES.map((p) => [providerWord(p), provider(p)]),
  );
  const regionSelect = select("region", params.get("region") || "", "Any region", params.get("region") ? [[params.get("region"), params.get("region")]] : []);
  const driftSelect = select(
    "version",
    params.get("version") || "",
    "Any version",
    DRIFT_NAMES.map((d) => [drift(d)[2], drift(d)[0]]),
  );
  const search = h("input", {
    id: "search",
    type: "search",
    value: params.get("q") || "",
    placeholder: "Name or id",
    autocomplete: "off",
    spellcheck: "false",
  });
  // the keyset tokens of the pages before this one, to page back
  const before = (params.get("before") || "").split(",").filter(Boolean);
  const pageToken = params.get("page") || "";
  const first = h("button", { type: "button", disabled: !pageToken }, "First page");
  const previous = h("button", { type: "button", disabled: before.length === 0 }, "Previous");
  const next = h("button", { type: "button", disabled: true }, "Next");
  let nextToken = "";

  const setParams = (change) => navigate(urlWith("/fleet", change));
  // a new filter starts from the first page
  const refilter = (change) => setParams({ ...change, page: "", before: "" });
  stateSelect.addEventListener("change", () => refilter({ state: stateSelect.value }));
  providerSelect.addEventListener("change", () => refilter({ provider: providerSelect.value }));
  regionSelect.addEventListener("change", () => refilter({ region: regionSelect.value }));
  driftSelect.addEventListener("change", () => refilter({ version: driftSelect.value }));
  const searchForm = h(
    "form",
    {
      role: "search",
      class: "search",
      onsubmit: (event) => {
        event.preventDefault();
        refilter({ q: search.value.trim() });
      },
    },
    h("label", { for: "search", class: "visually-hidden" }, "Search runners"),
    search,
    h("button", { type: "submit" }, "Search"),
  );
  next.addEventListener("click", () =>
    setParams({ page: nextToken, before: [...before, pageToken || "-"].slice(-MAX_BACK).join(",") }),
  );
  previous.addEventListener("click", () => {
    const back = [...before];
    const token = back.pop() || "";
    setParams({ page: token === "-" ? "" : token, before: back.join(",") });
  });
  first.addEventListener("click", () => setParams({ page: "", before: "" }));

  const revokeButton = h("button", { type: "button", disabled: true }, "Revoke credentials of 0 runners");
  const plural = (n) => `${n} runner${n === 1 ? "" : "s"}`;

  function updateSelection() {
    deleteButton.disabled = revokeButton.disabled = selected.size === 0;
    deleteButton.textContent = `Delete ${plural(selected.size)}`;
    revokeButton.textContent = `Revoke credentials of ${plural(selected.size)}`;
  }

  const dialog = h("dialog", { "aria-labelledby": "confirm-title" });
  /** Asks, then acts on the runners selected (by their ids: never "all"). */
  function bulk({ title, explanation, action, method, body, outcomes, done }) {
    const ids = [...selected];
    if (ids.length === 0) return;
    confirmFirst(dialog, {
      title: title(ids.length),
      explanation,
      action: action(ids.length),
      then: async () => {
        try {
          const answer = await call(method, body(ids));
          // code: a google.rpc.Code number, left out when 0 (done)
          const refused = (answer[outcomes] || []).filter((d) => int(d.code) !== 0);
          selected.clear();
          updateSelection();
          const text = refused.length
            ? `${ids.length - refused.length} ${done}; ${refused.length} refused: ${refused.map((d) => d.message).join("; ")}`
            : `${ids.length} ${done}`;
          status.textContent = text;
          announce(text);
          refresh();
        } catch (e) {
          status.textContent = e.message;
        }
      },
    });
  }
  deleteButton.addEventListener("click", () =>
    bulk({
      title: (n) => `Delete ${plural(n)}?`,
      explanation: "Each is asked to clean up and then removed; those you may not delete are left as they are.",
      action: (n) => `Delete ${plural(n)}`,
      method: "paddock.v1.FleetService/DeleteRunners",
      body: (runnerIds) => ({ runnerIds, force: false }),
      outcomes: "deletions",
      done: "deleted",
    }),
  );
  revokeButton.addEventListener("click", () =>
    bulk({
      title: (n) => `Revoke the credentials of ${plural(n)}?`,
      explanation: "Their access and exchange tokens stop working (on every replica within seconds); each runner needs a new token (rotate it on its page) to call paddock again.",
      action: (n) => `Revoke credentials of ${plural(n)}`,
      method: "paddock.v1.FleetService/RevokeRunnerCredentials",
      body: (runnerIds) => ({ runnerIds }),
      outcomes: "revocations",
      done: "revoked",
    }),
  );

  function row(f) {
    const r = f.runner;
    const box = h("input", { type: "checkbox", "aria-label": `Select ${r.name}`, checked: selected.has(r.runnerId) });
    box.addEventListener("change", () => {
      if (box.checked) selected.add(r.runnerId);
      else selected.delete(r.runnerId);
      updateSelection();
    });
    const [driftLabel, driftTone] = f.releaseVersion ? drift(f.drift) : ["no release", "neutral"];
    const version = r.status?.version;
    // data-label: the column's name, shown beside the value when the rows
    // are cards (narrow screens; see style.css)
    const cell = (attributes, ...content) => h("td", { role: "cell", ...attributes }, ...content);
    return h(
      "tr",
      { role: "row", "data-runner": r.runnerId },
      cell({ class: "select" }, box),
      cell({ class: "name" }, h("a", { href: `/runners/${r.runnerId}` }, r.name)),
      cell({ "data-label": "Provider" }, provider(r.provider)),
      cell({ class: "state" }, stateBadge(f.state)),
      cell({ "data-label": "Last heartbeat", title: exact(f.lastLeaseAt) }, ago(f.lastLeaseAt)),
      cell(
        { "data-label": "Version", title: f.releaseVersion ? `release: ${f.releaseVersion}` : "no release set for its channel" },
        h(
          "span",
          {},
          version || "—",
          // (a space: read out as two words)
          version ? [" ", h("span", { class: `badge ${driftTone} small` }, driftLabel)] : "",
        ),
      ),
      cell({ "data-label": "Region" }, f.region || "—"),
    );
  }

  async function refresh() {
    try {
      const [summary, page] = await Promise.all([
        call("paddock.v1.FleetService/GetFleetSummary", {}, { signal }),
        call(
          "paddock.v1.FleetService/ListFleetRunners",
          { pagination: { pageSize: PAGE_SIZE, token: pageToken }, filter: filterOf(params) },
          { signal },
        ),
      ]);
      performance.mark("fleet:answered");
      const link = (state) => `/fleet?state=${state}`;
      // int64 counts: strings in JSON, left out when 0
      const count = (name) => int(summary[name]);
      tiles.replaceChildren(
        tile("total", count("total"), "", "/fleet"),
        tile("active", count("active"), "good", link("active")),
        // inactive and stale split the INACTIVE runners, as their lists do
        tile("inactive", count("inactive") - count("stale"), "", link("inactive")),
        tile("degraded", count("degraded"), "warn", link("degraded")),
        tile("deleting", count("deleting"), "busy", link("deleting")),
        tile("never connected", count("neverConnected"), "", link("never-connected")),
        tile("stale", count("stale"), "stale", link("stale")),
        tile("outdated", count("outdated"), "warn", "/fleet?version=outdated"),
      );
      const regions = new Set(summary.regions || []);
      if (params.get("region")) regions.add(params.get("region"));
      regionSelect.replaceChildren(
        h("option", { value: "" }, "Any region"),
        ...[...regions].sort().map((r) => h("option", { value: r, selected: params.get("region") === r }, r)),
      );
      const runners = page.runners || [];
      nextToken = page.pagination?.nextToken || "";
      next.disabled = !nextToken;
      // what is selected stays on screen: a runner gone from the page (deleted,
      // or no longer matching) is not acted on unseen
      const shown = new Set(runners.map((f) => f.runner.runnerId));
      for (const id of selected) if (!shown.has(id)) selected.delete(id);
      updateSelection();
      table.replaceChildren(...runners.map(row));
      if (runners.length === 0) table.replaceChildren(h("tr", { role: "row" }, h("td", { role: "cell", colspan: 7 }, "No runners match.")));
      // for `make bench-console`: the answer in the DOM, and on screen (the
      // frame after it)
      performance.mark("fleet:rendered");
      requestAnimationFrame(() => setTimeout(() => performance.mark("fleet:painted"), 0));
    } catch (e) {
      if (e.name === "AbortError") return;
      status.textContent = e instanceof ApiError ? `${e.code}: ${e.message}` : String(e);
    }
  }

  main.replaceChildren(
    h("div", { class: "heading" }, h("h1", {}, "Fleet"), h("a", { class: "button primary", href: "/runners/new" }, "New runner")),
    tiles,
    h(
      "div",
      { class: "toolbar filters" },
      searchForm,
      h("label", { for: "state", class: "visually-hidden" }, "State"),
      stateSelect,
      h("label", { for: "provider", class: "visually-hidden" }, "Provider"),
      providerSelect,
      h("label", { for: "region", class: "visually-hidden" }, "Region"),
      regionSelect,
      h("label", { for: "version", class: "visually-hidden" }, "Version"),
      driftSelect,
      h("span", { class: "grow" }),
      revokeButton,
      deleteButton,
    ),
    status,
    h(
      "div",
      { class: "scroll" },
      // at 390 px each runner is a card (style.css): the roles keep it a
      // table for screen readers whatever its CSS display
      h(
        "table",
        { class: "runners", role: "table" },
        h("caption", { class: "visually-hidden" }, "Runners"),
        h(
          "thead",
          { role: "rowgroup" },
          h(
            "tr",
            { role: "row" },
            ...["Select", "Name", "Provider", "State", "Last heartbeat", "Version", "Region"].map((name, i) =>
              h("th", { scope: "col", role: "columnheader" }, i === 0 ? h("span", { class: "visually-hidden" }, name) : name),
            ),
          ),
        ),
        table,
      ),
    ),
    h("nav", { class: "pager", "aria-label": "Pages" }, first, previous, next),
    dialog,
  );
  refresh();
  followChanges(signal, refresh);
}
