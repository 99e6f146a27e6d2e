// A new runner: named, its provider and region chosen; then its exchange
// token shown once — with a copy button, the time left to use it, and the
// `paddock agent` command line that signs the runner up with it.

import { call } from "./api.js";
import { PROVIDER_NAMES, exact, h, provider, remaining, shownOnce } from "./format.js";

const CHANNELS = [
  ["RUNNER_RELEASE_CHANNEL_STABLE", "Stable"],
  ["RUNNER_RELEASE_CHANNEL_LATEST", "Latest"],
];

/** Single-quoted for a POSIX shell. */
function shellQuote(text) {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

export function createView({ main, signal, announce }) {
  const name = h("input", { id: "name", required: true, minlength: 3, maxlength: 127, autocomplete: "off" });
  const providerSelect = h(
    "select",
    { id: "provider" },
    ...PROVIDER_NAMES.map((p) => h("option", { value: p, selected: p === "RUNNER_PROVIDER_LINUX_HOST" }, provider(p))),
  );
  const region = h("input", { id: "region", maxlength: 64, autocomplete: "off", placeholder: "optional, e.g. eu-west-1" });
  const channel = h("select", { id: "channel" }, ...CHANNELS.map(([v, l]) => h("option", { value: v }, l)));
  const error = h("p", { class: "error", role: "alert" });
  const result = h("div");
  const submit = h("button", { type: "submit" }, "Create runner");
  const form = h(
    "form",
    {
      class: "card narrow-left",
      onsubmit: async (event) => {
        event.preventDefault();
        error.textContent = "";
        submit.disabled = true;
        try {
          const created = await call("gitpod.v1.RunnerService/CreateRunner", {
            name: name.value.trim(),
            provider: providerSelect.value,
            spec: { configuration: { region: region.value.trim(), releaseChannel: channel.value } },
          });
          form.hidden = true;
          await showToken(created);
        } catch (e) {
          error.textContent = e.message;
          submit.disabled = false;
        }
      },
    },
    h("label", { for: "name" }, "Name"),
    name,
    h("label", { for: "provider" }, "Provider"),
    providerSelect,
    h("label", { for: "region" }, "Region"),
    region,
    h("label", { for: "channel" }, "Release channel"),
    channel,
    error,
    submit,
  );

  async function showToken({ runner, exchangeToken }) {
    // the token first (it is shown only now), then its expiry as recorded
    const countdown = h("strong", { id: "expires" }, "24 hours");
    const command = [
      "paddock agent",
      `--server ${shellQuote(location.origin)}`,
      `--exchange-token ${shellQuote(exchangeToken)}`,
      "--state-file ~/.paddock-agent.json",
      runner.spec?.configuration?.region ? `--region ${shellQuote(runner.spec.configuration.region)}` : "",
    ]
      .filter(Boolean)
      .join(" \\\n  ");
    result.replaceChildren(
      h("h2", {}, `${runner.name} is created`),
      shownOnce(
        "Exchange token",
        exchangeToken,
        h("p", {}, "Use it within ", countdown, "; the runner trades it for its own access token when it signs up."),
      ),
      h("h3", {}, "Start the runner"),
      h("pre", { class: "command", tabindex: "0", "aria-label": "Agent command line" }, command),
      h("p", {}, h("a", { href: `/runners/${runner.runnerId}` }, `Go to ${runner.name}`), " — its state turns active when the agent signs up."),
    );
    announce(`${runner.name} is created; its exchange token is shown once`);
    result.querySelector("button")?.focus();
    try {
      const { tokens = [] } = await call("paddock.v1.RunnerTokenService/ListRunnerTokens", { runnerId: runner.runnerId }, { signal });
      const expiresAt = tokens.find((t) => t.kind === "RUNNER_TOKEN_KIND_EXCHANGE" && t.active)?.expiresAt;
      if (!expiresAt) return;
      countdown.title = exact(expiresAt);
      const tick = () => (countdown.textContent = remaining(expiresAt));
      tick();
      const timer = setInterval(tick, 1000);
      signal.addEventListener("abort", () => clearInterval(timer));
    } catch {
      // the countdown stays at its 24 hours; the token is shown all the same
    }
  }

  main.replaceChildren(h("p", {}, h("a", { href: "/fleet" }, "← Fleet")), h("h1", {}, "New runner"), form, result);
  name.focus();
}
