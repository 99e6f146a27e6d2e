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

/** "3 minutes ago"; "never" without a time. */
export function ago(timestamp, now = Date.now()) {
  if (!timestamp) return "never";
  const seconds = Math.round((new Date(timestamp).getTime() - now) / 1000);
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === "second") {
      return relative.format(Math.round(seconds / size), unit);
    }
  }
  return "now";
}

/** The exact time, for a title. */
export function exact(timestamp) {
  return timestamp ? new Date(timestamp).toLocaleString() : "never";
}

const PHASES = {
  RUNNER_PHASE_CREATED: ["never connected", "neutral"],
  RUNNER_PHASE_INACTIVE: ["inactive", "neutral"],
  RUNNER_PHASE_ACTIVE: ["active", "good"],
  RUNNER_PHASE_DELETING: ["deleting", "busy"],
  RUNNER_PHASE_DELETED: ["deleted", "neutral"],
  RUNNER_PHASE_DEGRADED: ["degraded", "warn"],
};

/** [label, tone] of a runner's phase. */
export function phase(name) {
  return PHASES[name] || ["unknown", "neutral"];
}

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
