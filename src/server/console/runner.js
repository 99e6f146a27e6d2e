// One runner: its status (live), configuration, environment classes, SCM
// integrations, who may use it (policies), its credentials (listed, revoked,
// rotated with an overlap) and its audit trail.

import { actorName, call, followChanges, listAll, membersById } from "./api.js";
import { ago, confirmFirst, drift, exact, h, int, provider, shownOnce, table, words } from "./format.js";
import { stateBadge } from "./fleet.js";

const GRACES = [
  ["0s", "none: the old ones stop now"],
  ["600s", "10 minutes"],
  ["3600s", "1 hour"],
  ["86400s", "1 day"],
];

function section(title, ...content) {
  return h("section", { class: "part", "aria-label": title }, h("h2", {}, title), ...content);
}

function details(rows) {
  return h("dl", { class: "details" }, ...rows.flatMap(([label, value]) => [h("dt", {}, label), h("dd", {}, value)]));
}

export function runnerView({ main, signal, runnerId, announce }) {
  const title = h("h1", {}, "Runner");
  const status = h("p", { class: "help", role: "status" });
  const overview = h("div");
  const configuration = h("div");
  const classes = h("div");
  const integrations = h("div");
  const policies = h("div");
  const credentials = h("div");
  const trail = h("div");
  const secret = h("div");
  const dialog = h("dialog", { "aria-labelledby": "confirm-title" });

  function confirm(question, explanation, action, then) {
    confirmFirst(dialog, {
      title: question,
      explanation,
      action,
      then: () => then().catch((e) => (status.textContent = e.message)),
    });
  }

  async function showCredentials() {
    const tokens = await listAll("paddock.v1.RunnerTokenService/ListRunnerTokens", { runnerId, includeInactive: true }, "tokens");
    const grace = h(
      "select",
      { id: "grace" },
      ...GRACES.map(([value, label]) => h("option", { value, selected: value === "3600s" }, label)),
    );
    const rotate = h("button", { type: "button" }, "Rotate access token");
    rotate.addEventListener("click", () =>
      confirm(
        "Rotate the runner's access token?",
        `A new access token is made now; the current ones keep working for ${grace.selectedOptions[0].textContent}.`,
        "Rotate",
        async () => {
          const answer = await call("paddock.v1.RunnerTokenService/RotateRunnerToken", { runnerId, grace: grace.value });
          secret.replaceChildren(
            shownOnce(
              "The runner's new access token",
              answer.accessToken,
              h(
                "p",
                { class: "help" },
                answer.previousExpireAt ? `Earlier access tokens stop ${exact(answer.previousExpireAt)}. ` : "",
                "Put it in the runner's state file, or start the agent with it.",
              ),
            ),
          );
          announce("A new access token was made");
          await refresh();
        },
      ),
    );
    const kind = (k) => words(k, "RUNNER_TOKEN_KIND_");
    const state = (t) =>
      t.active ? h("span", { class: "badge good" }, "active")
      : t.exchangedAt ? h("span", { class: "badge" }, "exchanged")
      : t.revokedAt ? h("span", { class: "badge" }, "revoked")
      : h("span", { class: "badge" }, "expired");
    credentials.replaceChildren(
      h("div", { class: "toolbar" }, h("label", { for: "grace" }, "Overlap"), grace, rotate),
      table(
        "Credentials",
        ["Kind", "State", "Created", "Last used", "Expires", ""],
        tokens.map((t) => {
          let revoke = "";
          if (t.active) {
            revoke = h("button", { type: "button", class: "danger", "data-token": t.id }, "Revoke");
            revoke.addEventListener("click", () =>
              confirm(
                `Revoke this ${kind(t.kind)} token?`,
                "Calls made with it fail from now on (on every replica within seconds); this cannot be undone.",
                "Revoke",
                async () => {
                  await call("paddock.v1.RunnerTokenService/RevokeRunnerToken", { tokenId: t.id });
                  announce("Token revoked");
                  await refresh();
                },
              ),
            );
          }
          return [
            kind(t.kind),
            state(t),
            h("span", { title: exact(t.createdAt) }, ago(t.createdAt)),
            h("span", { title: exact(t.lastUsedAt) }, ago(t.lastUsedAt)),
            t.expiresAt ? h("span", { title: exact(t.expiresAt) }, ago(t.expiresAt)) : "never",
            revoke,
          ];
        }),
      ),
    );
  }

  async function refresh() {
    try {
      const [{ runner }, fleet] = await Promise.all([
        call("gitpod.v1.RunnerService/GetRunner", { runnerId }, { signal }),
        call("paddock.v1.FleetService/ListFleetRunners", { filter: { search: runnerId } }, { signal }),
      ]);
      const f = fleet.runners?.[0] || {};
      title.textContent = runner.name;
      const s = runner.status || {};
      const c = runner.spec?.configuration || {};
      overview.replaceChildren(
        details([
          ["State", stateBadge(f.state)],
          ["Last heartbeat", h("span", { title: exact(f.lastLeaseAt) }, ago(f.lastLeaseAt))],
          ["Message", s.message || "—"],
          ["Version", s.version ? `${s.version} (${f.releaseVersion ? `${drift(f.drift)[0]}; release ${f.releaseVersion}` : "no release set for its channel"})` : "not reported yet"],
          ["Provider", provider(runner.provider)],
          ["Region", f.region || "—"],
          ["System", s.systemDetails || "—"],
          ["Created", exact(runner.createdAt)],
          ["Id", h("code", {}, runner.runnerId)],
        ]),
      );
      // optional hours: the window limits updates only with both set, and apart
      const window = c.updateWindow || {};
      const [start, end] = [window.startHour, window.endHour].map((hour) => (hour === undefined ? null : int(hour)));
      configuration.replaceChildren(
        details([
          ["Release channel", words(c.releaseChannel, "RUNNER_RELEASE_CHANNEL_")],
          ["Auto update", c.autoUpdate ? "on" : "off"],
          ["Update window", start !== null && end !== null && start !== end ? `${start}:00–${end}:00 UTC` : "any time"],
          ["Log level", c.logLevel && c.logLevel !== "LOG_LEVEL_UNSPECIFIED" ? words(c.logLevel, "LOG_LEVEL_") : "default"],
          ["Metrics", c.metrics?.enabled ? c.metrics.url || "on" : "off"],
          ["Image cache", c.devcontainerImageCacheEnabled ? "on" : "off"],
        ]),
      );
      const [envClasses, scm, runnerPolicies, groups, audit, people] = await Promise.all([
        listAll("gitpod.v1.RunnerConfigurationService/ListEnvironmentClasses", { filter: { runnerIds: [runnerId] } }, "environmentClasses"),
        listAll("gitpod.v1.RunnerConfigurationService/ListSCMIntegrations", { filter: { runnerIds: [runnerId] } }, "integrations"),
        listAll("gitpod.v1.RunnerService/ListRunnerPolicies", { runnerId }, "policies"),
        listAll("gitpod.v1.GroupService/ListGroups", {}, "groups"),
        call(
          "gitpod.v1.EventService/ListAuditLogs",
          { filter: { subjectIds: [runnerId] }, pagination: { pageSize: 20 } },
          { signal },
        ).catch((e) => ({ error: e })),
        membersById(),
      ]);
      classes.replaceChildren(
        table(
          "Environment classes",
          ["Name", "Description", "Enabled"],
          envClasses.map((e) => [e.displayName, e.description || "—", e.enabled ? "yes" : "no"]),
          "No environment classes yet.",
        ),
      );
      integrations.replaceChildren(
        table(
          "SCM integrations",
          ["Host", "SCM", "OAuth", "Personal access tokens"],
          scm.map((i) => [i.host, i.scmId, i.oauth ? "yes" : "no", i.pat ? "yes" : "no"]),
          "No SCM integrations.",
        ),
      );
      const groupName = new Map(groups.map((g) => [g.id, g.name]));
      const granted = new Set(runnerPolicies.map((p) => p.groupId));
      const groupSelect = h(
        "select",
        { id: "policy-group" },
        ...groups.filter((g) => !granted.has(g.id)).map((g) => h("option", { value: g.id }, g.name)),
      );
      const roleSelect = h(
        "select",
        { id: "policy-role" },
        h("option", { value: "RUNNER_ROLE_USER" }, "user: may use it"),
        h("option", { value: "RUNNER_ROLE_ADMIN" }, "admin: may manage it"),
      );
      const grant = h(
        "form",
        {
          class: "toolbar",
          onsubmit: async (event) => {
            event.preventDefault();
            try {
              await call("gitpod.v1.RunnerService/CreateRunnerPolicy", { runnerId, groupId: groupSelect.value, role: roleSelect.value });
              announce("Policy added");
              refresh();
            } catch (e) {
              status.textContent = e.message;
            }
          },
        },
        h("label", { for: "policy-group" }, "Group"),
        groupSelect,
        h("label", { for: "policy-role" }, "Role"),
        roleSelect,
        h("button", { type: "submit" }, "Grant"),
      );
      grant.hidden = groupSelect.options.length === 0;
      policies.replaceChildren(
        grant,
        table(
          "Policies",
          ["Group", "Role", ""],
          runnerPolicies.map((p) => {
            const remove = h("button", { type: "button" }, "Remove");
            remove.addEventListener("click", async () => {
              try {
                await call("gitpod.v1.RunnerService/DeleteRunnerPolicy", { runnerId, groupId: p.groupId });
                announce("Policy removed");
                refresh();
              } catch (e) {
                status.textContent = e.message;
              }
            });
            return [
              h("a", { href: `/groups/${p.groupId}` }, groupName.get(p.groupId) || p.groupId),
              words(p.role, "RUNNER_ROLE_"),
              remove,
            ];
          }),
          "Only its creator and the organization's admins may use it.",
        ),
      );
      trail.replaceChildren(
        audit.error
          ? h("p", { class: "help" }, "The audit log is for admins and audit readers.")
          : table(
              "Audit trail",
              ["When", "Action", "Actor"],
              (audit.entries || []).map((e) => [
                h("span", { title: exact(e.createdAt) }, ago(e.createdAt)),
                e.action,
                actorName(e, people, runnerId),
              ]),
              "Nothing recorded.",
            ),
        h("p", {}, h("a", { href: `/audit?subject=${runnerId}` }, "The whole trail")),
      );
      await showCredentials().catch((e) => {
        credentials.replaceChildren(h("p", { class: "help" }, e.code === "permission_denied" ? "Only those who manage this runner see its credentials." : e.message));
      });
    } catch (e) {
      if (e.name === "AbortError") return;
      status.textContent = e.code === "not_found" ? "This runner does not exist (or is not yours to see)." : e.message;
    }
  }
  main.replaceChildren(
    h("p", {}, h("a", { href: "/fleet" }, "← Fleet")),
    title,
    status,
    secret,
    section("Status", overview),
    section("Configuration", configuration),
    section("Environment classes", classes),
    section("SCM integrations", integrations),
    section("Who may use it", policies),
    section("Credentials", credentials),
    section("Audit trail", trail),
    dialog,
  );
  refresh();
  followChanges(signal, refresh, "RESOURCE_TYPE_RUNNER", [runnerId]);
}
