// Groups and their members, and the signed-in person's own personal access
// tokens.

import { call, listAll, membersById } from "./api.js";
import { ago, exact, h, int, shownOnce, table, words } from "./format.js";

function problem(status, e) {
  if (e.name === "AbortError") return;
  status.textContent = e.code === "permission_denied" ? `Not yours to change: ${e.message}` : e.message;
}

export function groupsView({ main, navigate }) {
  const status = h("p", { class: "help", role: "status" });
  const list = h("div");
  const name = h("input", { id: "group-name", required: true, maxlength: 80, autocomplete: "off" });
  const description = h("input", { id: "group-description", maxlength: 400, autocomplete: "off" });
  const form = h(
    "form",
    {
      class: "toolbar",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          const me = await call("gitpod.v1.IdentityService/GetAuthenticatedIdentity");
          const { group } = await call("gitpod.v1.GroupService/CreateGroup", {
            organizationId: me.organizationId,
            name: name.value.trim(),
            description: description.value.trim(),
          });
          navigate(`/groups/${group.id}`);
        } catch (e) {
          problem(status, e);
        }
      },
    },
    h("label", { for: "group-name" }, "Name"),
    name,
    h("label", { for: "group-description" }, "Description"),
    description,
    h("button", { type: "submit" }, "Create group"),
  );
  main.replaceChildren(h("h1", {}, "Groups"), form, status, list);
  listAll("gitpod.v1.GroupService/ListGroups", {}, "groups")
    .then((groups) =>
      list.replaceChildren(
        table(
          "Groups",
          ["Name", "Description", "Members", "Kind"],
          groups.map((g) => [
            h("a", { href: `/groups/${g.id}` }, g.name),
            g.description || "—",
            String(int(g.memberCount)),
            g.systemManaged ? "managed by paddock" : "",
          ]),
        ),
      ),
    )
    .catch((e) => problem(status, e));
}

export function groupView({ main, signal, groupId, announce }) {
  const title = h("h1", {}, "Group");
  const status = h("p", { class: "help", role: "status" });
  const members = h("div");
  const candidates = h("select", { id: "member" });
  const add = h(
    "form",
    {
      class: "toolbar",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          await call("gitpod.v1.GroupService/CreateMembership", {
            groupId,
            subject: { id: candidates.value, principal: "PRINCIPAL_USER" },
          });
          announce("Member added");
          refresh();
        } catch (e) {
          problem(status, e);
        }
      },
    },
    h("label", { for: "member" }, "Add a member"),
    candidates,
    h("button", { type: "submit" }, "Add"),
  );

  async function refresh() {
    try {
      const [{ group }, memberships, people] = await Promise.all([
        call("gitpod.v1.GroupService/GetGroup", { id: groupId }, { signal }),
        listAll("gitpod.v1.GroupService/ListMemberships", { groupId }, "members"),
        membersById().then((byId) => [...byId.values()]),
      ]);
      title.textContent = group.name;
      const inGroup = new Set(memberships.map((m) => m.subject?.id));
      candidates.replaceChildren(
        ...people
          .filter((p) => !inGroup.has(p.userId))
          .map((p) => h("option", { value: p.userId }, p.fullName || p.email || p.userId)),
      );
      add.hidden = group.systemManaged || candidates.options.length === 0;
      members.replaceChildren(
        table(
          "Members",
          ["Name", "Kind", ""],
          memberships.map((m) => {
            const remove = h("button", { type: "button" }, "Remove");
            remove.addEventListener("click", async () => {
              try {
                await call("gitpod.v1.GroupService/DeleteMembership", { membershipId: m.id });
                announce(`${m.name || "member"} removed`);
                refresh();
              } catch (e) {
                problem(status, e);
              }
            });
            return [m.name || m.subject?.id, words(m.subject?.principal, "PRINCIPAL_"), group.systemManaged ? "" : remove];
          }),
          "No members yet.",
        ),
      );
    } catch (e) {
      problem(status, e);
    }
  }
  main.replaceChildren(h("p", {}, h("a", { href: "/groups" }, "← Groups")), title, status, add, members);
  refresh();
}

const LIFETIMES = [
  ["604800s", "7 days"],
  ["2592000s", "30 days"],
  ["7776000s", "90 days"],
];

export function tokensView({ main, signal, announce }) {
  const status = h("p", { class: "help", role: "status" });
  const list = h("div");
  const shown = h("div");
  const description = h("input", { id: "token-description", required: true, maxlength: 100, autocomplete: "off" });
  const lifetime = h("select", { id: "token-lifetime" }, ...LIFETIMES.map(([v, l]) => h("option", { value: v }, l)));
  const readOnly = h("input", { id: "token-read-only", type: "checkbox" });
  let userId = "";
  const form = h(
    "form",
    {
      class: "toolbar",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          const { token } = await call("gitpod.v1.UserService/CreatePersonalAccessToken", {
            userId,
            description: description.value.trim(),
            validFor: lifetime.value,
            readOnly: readOnly.checked,
          });
          shown.replaceChildren(shownOnce(`Token "${description.value.trim()}"`, token));
          announce("Token created; it is shown once");
          description.value = "";
          refresh();
        } catch (e) {
          problem(status, e);
        }
      },
    },
    h("label", { for: "token-description" }, "Description"),
    description,
    h("label", { for: "token-lifetime" }, "Valid for"),
    lifetime,
    h("label", { for: "token-read-only", class: "inline" }, readOnly, " read-only"),
    h("button", { type: "submit" }, "Create token"),
  );

  async function refresh() {
    try {
      const { user } = await call("gitpod.v1.UserService/GetAuthenticatedUser", {}, { signal });
      userId = user.id;
      const tokens = await listAll("gitpod.v1.UserService/ListPersonalAccessTokens", { filter: { userIds: [userId] } }, "personalAccessTokens");
      list.replaceChildren(
        table(
          "Personal access tokens",
          ["Description", "Created", "Last used", "Expires", "Access", ""],
          tokens.map((t) => {
            const revoke = h("button", { type: "button", class: "danger" }, "Delete");
            revoke.addEventListener("click", async () => {
              try {
                await call("gitpod.v1.UserService/DeletePersonalAccessToken", { personalAccessTokenId: t.id });
                announce("Token deleted");
                refresh();
              } catch (e) {
                problem(status, e);
              }
            });
            return [
              t.description || "—",
              h("span", { title: exact(t.createdAt) }, ago(t.createdAt)),
              h("span", { title: exact(t.lastUsed) }, ago(t.lastUsed)),
              t.expiresAt ? h("span", { title: exact(t.expiresAt) }, ago(t.expiresAt)) : "never",
              t.readOnly ? "read-only" : "full",
              revoke,
            ];
          }),
          "No tokens yet.",
        ),
      );
    } catch (e) {
      problem(status, e);
    }
  }
  main.replaceChildren(
    h("h1", {}, "Personal access tokens"),
    h("p", { class: "help" }, "Tokens that act as you: for the console, the SDK, scripts."),
    form,
    shown,
    status,
    list,
  );
  refresh();
}
