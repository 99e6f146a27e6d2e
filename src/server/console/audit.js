// The organization's audit log, newest first, in keyset pages, filtered by
// who acted, on what, and when; the filters live in the address bar.

import { actorName, call, membersById } from "./api.js";
import { ago, exact, h, millis, table, urlWith, words } from "./format.js";

const SUBJECT_TYPES = [
  "RESOURCE_TYPE_RUNNER",
  "RESOURCE_TYPE_ENVIRONMENT_CLASS",
  "RESOURCE_TYPE_RUNNER_SCM_INTEGRATION",
  "RESOURCE_TYPE_HOST_AUTHENTICATION_TOKEN",
  "RESOURCE_TYPE_RUNNER_LLM_INTEGRATION",
  "RESOURCE_TYPE_GROUP",
  "RESOURCE_TYPE_GROUP_MEMBERSHIP_CHANGED",
  "RESOURCE_TYPE_USER",
  "RESOURCE_TYPE_PERSONAL_ACCESS_TOKEN",
  "RESOURCE_TYPE_ROLE_ASSIGNMENT",
];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function auditView({ main, signal, params, navigate }) {
  const status = h("p", { class: "help", role: "status" });
  const list = h("div");
  const field = (id, value, attrs = {}) => h("input", { id, value: value || "", autocomplete: "off", spellcheck: "false", ...attrs });
  const actor = field("actor", params.get("actor"), { placeholder: "actor id" });
  const subject = field("subject", params.get("subject"), { placeholder: "subject id" });
  const type = h(
    "select",
    { id: "type" },
    h("option", { value: "" }, "Any kind"),
    ...SUBJECT_TYPES.map((t) => h("option", { value: t, selected: params.get("type") === t }, words(t, "RESOURCE_TYPE_"))),
  );
  const since = field("since", params.get("since"), { type: "date" });
  const pageToken = params.get("page") || "";
  const next = h("button", { type: "button", disabled: true }, "Older");
  const first = h("button", { type: "button", disabled: !pageToken }, "Newest");
  let nextToken = "";

  const go = (change) => navigate(urlWith("/audit", change));
  const form = h(
    "form",
    {
      class: "toolbar",
      onsubmit: (event) => {
        event.preventDefault();
        go({ actor: actor.value.trim(), subject: subject.value.trim(), type: type.value, since: since.value, page: "" });
      },
    },
    h("label", { for: "actor", class: "visually-hidden" }, "Actor id"),
    actor,
    h("label", { for: "subject", class: "visually-hidden" }, "Subject id"),
    subject,
    h("label", { for: "type", class: "visually-hidden" }, "Kind of subject"),
    type,
    // the label stays with its field when the toolbar wraps
    h("span", { class: "pair" }, h("label", { for: "since" }, "Since"), since),
    h("button", { type: "submit" }, "Filter"),
  );
  next.addEventListener("click", () => go({ page: nextToken }));
  first.addEventListener("click", () => go({ page: "" }));

  async function refresh() {
    const filter = {};
    for (const [key, into] of [["actor", "actorIds"], ["subject", "subjectIds"]]) {
      const value = params.get(key);
      if (value && !UUID.test(value)) {
        status.textContent = `The ${key} must be an id (a UUID).`;
        return;
      }
      if (value) filter[into] = [value];
    }
    if (params.get("type")) filter.subjectTypes = [params.get("type")];
    if (params.get("since")) {
      // a day (YYYY-MM-DD) from the address bar: midnight where the reader is
      const from = /^\d{4}-\d{2}-\d{2}$/.test(params.get("since")) ? millis(`${params.get("since")}T00:00:00`) : null;
      if (from === null) {
        status.textContent = "Since must be a day (YYYY-MM-DD).";
        return;
      }
      filter.from = new Date(from).toISOString();
    }
    try {
      const [page, people] = await Promise.all([
        call("gitpod.v1.EventService/ListAuditLogs", { filter, pagination: { pageSize: 50, token: pageToken } }, { signal }),
        membersById(),
      ]);
      nextToken = page.pagination?.nextToken || "";
      next.disabled = !nextToken;
      list.replaceChildren(
        table(
          "Audit log",
          ["When", "Action", "Subject", "Actor"],
          (page.entries || []).map((e) => [
            h("span", { title: exact(e.createdAt) }, ago(e.createdAt)),
            e.action,
            e.subjectType === "RESOURCE_TYPE_RUNNER"
              ? h("a", { href: `/runners/${e.subjectId}` }, e.subjectId)
              : h("span", {}, `${words(e.subjectType, "RESOURCE_TYPE_")} `, h("code", {}, e.subjectId)),
            h("a", { href: `/audit?actor=${e.actorId}`, title: e.actorId }, actorName(e, people)),
          ]),
          "Nothing recorded under this filter.",
        ),
      );
    } catch (e) {
      if (e.name === "AbortError") return;
      status.textContent = e.code === "permission_denied" ? "The audit log is for admins and audit readers." : e.message;
    }
  }
  main.replaceChildren(
    h("h1", {}, "Audit log"),
    form,
    status,
    list,
    h("nav", { class: "pager", "aria-label": "Pages" }, first, next),
  );
  refresh();
}
