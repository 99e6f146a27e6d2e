// How the console writes times, phases and providers.

const UNITS = [
  ["year", 365 * 86400],
  ["month", 30 * 86400],
  ["day", 86400],
  ["hour", 3600],
  ["minute", 60],
  ["second", 1],
];

const relative = new Intl.RelativeTimeFormat("en", { numeric: "auto" });

/**
 * An integer field of an API answer as a number. proto3 JSON leaves a field
 * out when it is 0, and writes 64-bit integers (int64, uint64) as strings
 * ("10001"): missing is 0, a string is read as its number (exact up to
 * 2^53, past any count). Anything else (a server bug) throws rather than
 * show NaN.
 */
export function int(value) {
  if (value === undefined || value === null) return 0;
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n)) throw new TypeError(`not an integer: ${JSON.stringify(value)}`);
  return n;
}

/**
 * The milliseconds of a google.protobuf.Timestamp (an RFC 3339 string in
 * JSON), or null when it is left out (never happened) or unreadable.
 */
export function millis(timestamp) {
  if (!timestamp) return null;
  const ms = new Date(timestamp).getTime();
  return Number.isNaN(ms) ? null : ms;
}

/** "3 minutes ago"; "never" without a time. */
export function ago(timestamp, now = Date.now()) {
  const at = millis(timestamp);
  if (at === null) return "never";
  const seconds = Math.round((at - now) / 1000);
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === "second") {
      return relative.format(Math.round(seconds / size), unit);
    }
  }
  return "now";
}

/** The exact time, for a title. */
export function exact(timestamp) {
  const at = millis(timestamp);
  return at === null ? "never" : new Date(at).toLocaleString();
}

const STATES = {
  FLEET_STATE_NEVER_CONNECTED: ["never connected", "neutral", "never-connected"],
  FLEET_STATE_ACTIVE: ["active", "good", "active"],
  FLEET_STATE_DEGRADED: ["degraded", "warn", "degraded"],
  FLEET_STATE_INACTIVE: ["inactive", "neutral", "inactive"],
  FLEET_STATE_STALE: ["stale", "stale", "stale"],
  FLEET_STATE_DELETING: ["deleting", "busy", "deleting"],
};

/** [label, tone, URL word] of a paddock.v1.FleetState. */
export function fleetState(name) {
  return STATES[name] || ["unknown", "neutral", ""];
}

/** The FleetState of a URL word ("stale"), or undefined. */
export function fleetStateOf(word) {
  return Object.keys(STATES).find((k) => STATES[k][2] === word);
}

export const FLEET_STATES = Object.keys(STATES);

const DRIFTS = {
  VERSION_DRIFT_UP_TO_DATE: ["up to date", "good", "current"],
  VERSION_DRIFT_OUTDATED: ["outdated", "warn", "outdated"],
  VERSION_DRIFT_UNKNOWN: ["unknown", "neutral", "unknown"],
};

/** [label, tone, URL word] of a paddock.v1.VersionDrift. */
export function drift(name) {
  return DRIFTS[name] || ["unknown", "neutral", "unknown"];
}

export function driftOf(word) {
  return Object.keys(DRIFTS).find((k) => DRIFTS[k][2] === word);
}

export const DRIFT_NAMES = Object.keys(DRIFTS);

const PROVIDERS = {
  RUNNER_PROVIDER_AWS_EC2: "AWS EC2",
  RUNNER_PROVIDER_LINUX_HOST: "Linux host",
  RUNNER_PROVIDER_DESKTOP_MAC: "Mac",
  RUNNER_PROVIDER_MANAGED: "Managed",
  RUNNER_PROVIDER_GCP: "GCP",
  RUNNER_PROVIDER_DEV_AGENT: "Dev agent",
};

export function provider(name) {
  return PROVIDERS[name] || name || "—";
}

export const PROVIDER_NAMES = Object.keys(PROVIDERS);

/** The provider of a URL word ("linux-host"), and the word of a provider. */
export function providerWord(name) {
  return name.replace("RUNNER_PROVIDER_", "").toLowerCase().replaceAll("_", "-");
}
export function providerOf(word) {
  return PROVIDER_NAMES.find((p) => providerWord(p) === word);
}

/** "23 h 59 min" / "expired", for a countdown; "no limit" without a time. */
export function remaining(timestamp, now = Date.now()) {
  const at = millis(timestamp);
  if (at === null) return "no limit";
  const seconds = Math.floor((at - now) / 1000);
  if (seconds <= 0) return "expired";
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const secs = seconds % 60;
  if (hours) return `${hours} h ${minutes} min`;
  if (minutes) return `${minutes} min ${secs} s`;
  return `${secs} s`;
}

/** A gitpod.v1 enum value without its prefix, in words ("RUNNER_ROLE_ADMIN" → "admin"). */
export function words(name, prefix) {
  return (name || "").replace(prefix, "").toLowerCase().replaceAll("_", " ") || "—";
}

/** An element with attributes and children (strings become text, never HTML). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/**
 * A table with a caption (read by screen readers), column headers and rows
 * (arrays of cells). On narrow screens each row is a card, each cell beside
 * its column's name (data-label; style.css); the roles keep it a table for
 * screen readers whatever its CSS display.
 */
export function table(caption, headers, rows, empty = "None.") {
  const body = rows.length
    ? rows.map((cells) =>
        h("tr", { role: "row" }, ...cells.map((c, i) => h("td", { role: "cell", "data-label": headers[i] || null }, h("span", {}, c)))),
      )
    : [h("tr", { role: "row" }, h("td", { role: "cell", colspan: headers.length }, empty))];
  return h(
    "div",
    { class: "scroll" },
    h(
      "table",
      { class: "cards", role: "table" },
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", { role: "rowgroup" }, h("tr", { role: "row" }, ...headers.map((t) => h("th", { scope: "col", role: "columnheader" }, t)))),
      h("tbody", { role: "rowgroup" }, ...body),
    ),
  );
}

/** A secret shown once: the value, a copy button and what to do with it. */
export function shownOnce(label, value, ...after) {
  const id = `secret-${Math.random().toString(36).slice(2)}`;
  const output = h("input", { id, class: "secret", readonly: true, value, spellcheck: "false", autocomplete: "off" });
  const note = h("span", { class: "help", role: "status" });
  const copy = h("button", { type: "button" }, "Copy");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(value);
      note.textContent = "Copied.";
    } catch {
      output.select();
      note.textContent = "Selected: copy it with Ctrl+C.";
    }
  });
  return h(
    "div",
    { class: "card once" },
    h("label", { for: id }, label),
    h("div", { class: "copyable" }, output, copy),
    note,
    h("p", { class: "help" }, "Shown only now: paddock keeps only a hash of it."),
    ...after,
  );
}

/** `path` with the address bar's query changed: empty values removed. */
export function urlWith(path, change) {
  const params = new URLSearchParams(location.search);
  for (const [key, value] of Object.entries(change)) {
    if (value) params.set(key, value);
    else params.delete(key);
  }
  const query = params.toString();
  return query ? `${path}?${query}` : path;
}

/**
 * Asks in `dialog` (a modal, focus on Cancel; Escape cancels) before
 * something that cannot be undone; runs `then` on yes.
 */
export function confirmFirst(dialog, { title, explanation, action, then }) {
  const yes = h("button", { type: "button", class: "danger" }, action);
  const no = h("button", { type: "button" }, "Cancel");
  no.addEventListener("click", () => dialog.close());
  yes.addEventListener("click", () => {
    dialog.close();
    then();
  });
  dialog.replaceChildren(h("h2", { id: "confirm-title" }, title), h("p", {}, explanation), h("div", { class: "actions" }, no, yes));
  dialog.showModal();
  no.focus();
}
