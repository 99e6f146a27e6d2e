// The console's shell: signing in and out, the navigation, and which view
// the address bar shows. Views render into <main>; links within the console
// move without reloading.

import { ApiError, call, session } from "./api.js";
import { auditView } from "./audit.js";
import { createView } from "./create.js";
import { fleetView } from "./fleet.js";
import { h } from "./format.js";
import { groupView, groupsView, tokensView } from "./people.js";
import { runnerView } from "./runner.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const signOut = document.getElementById("sign-out");
let leaving = new AbortController();

export function announce(text) {
  document.getElementById("announce").textContent = text;
}

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  render();
}

function signInView(next) {
  const input = h("input", {
    id: "token",
    type: "password",
    autocomplete: "off",
    required: true,
    spellcheck: "false",
    "aria-describedby": "token-help",
  });
  const error = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    {
      class: "card narrow",
      onsubmit: async (event) => {
        event.preventDefault();
        session.signIn(input.value.trim());
        try {
          const me = await call("gitpod.v1.IdentityService/GetAuthenticatedIdentity");
          if (me.subject?.principal !== "PRINCIPAL_USER") throw new ApiError("permission_denied", "sign in with a person's token, not a runner's");
          navigate(next || "/fleet", { replace: true });
        } catch (e) {
          session.signOut();
          error.textContent = e.message;
          input.focus();
        }
      },
    },
    h("h1", {}, "Sign in"),
    h("label", { for: "token" }, "Personal access token"),
    input,
    h("p", { id: "token-help", class: "help" }, "Kept in this tab only, until you sign out or close it."),
    error,
    h("button", { type: "submit" }, "Sign in"),
  );
  main.replaceChildren(form);
  input.focus();
}

function renderNav(path) {
  const links = [
    ["/fleet", "Fleet", ["/fleet", "/runners"]],
    ["/groups", "Groups", ["/groups"]],
    ["/audit", "Audit log", ["/audit"]],
    ["/tokens", "Tokens", ["/tokens"]],
  ];
  nav.replaceChildren(
    ...links.map(([href, label, owns]) =>
      h("a", { href, "aria-current": owns.some((p) => path.startsWith(p)) ? "page" : false }, label),
    ),
  );
}

function render() {
  leaving.abort();
  leaving = new AbortController();
  const { pathname, search } = location;
  const signedIn = !!session.token;
  signOut.hidden = !signedIn;
  nav.hidden = !signedIn;
  if (!signedIn || pathname === "/sign-in") {
    if (signedIn) return navigate("/fleet", { replace: true });
    const next = pathname === "/sign-in" ? new URLSearchParams(search).get("next") : pathname + search;
    if (pathname !== "/sign-in") history.replaceState(null, "", `/sign-in?next=${encodeURIComponent(next)}`);
    return signInView(next && next.startsWith("/") && !next.startsWith("//") ? next : "/fleet");
  }
  renderNav(pathname);
  main.focus({ preventScroll: true });
  const context = { main, signal: leaving.signal, params: new URLSearchParams(search), navigate, announce };
  const runner = pathname.match(/^\/runners\/([0-9a-f-]{36})$/);
  if (runner) return runnerView({ ...context, runnerId: runner[1] });
  const group = pathname.match(/^\/groups\/([0-9a-f-]{36})$/);
  if (group) return groupView({ ...context, groupId: group[1] });
  const views = {
    "/": fleetView,
    "/fleet": fleetView,
    "/runners/new": createView,
    "/groups": groupsView,
    "/audit": auditView,
    "/tokens": tokensView,
  };
  if (views[pathname]) return views[pathname](context);
  main.replaceChildren(h("p", {}, "Nothing here. ", h("a", { href: "/fleet" }, "Back to the fleet")));
}

signOut.addEventListener("click", () => {
  session.signOut();
  navigate("/sign-in", { replace: true });
});

// links within the console move without a reload
document.addEventListener("click", (event) => {
  const link = event.target.closest?.("a[href^='/']");
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  navigate(link.getAttribute("href"));
});
// "Skip to content" focuses the page without touching the address bar (a
// #fragment would re-render the view)
document.querySelector(".skip").addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});
addEventListener("popstate", render);
render();
