// paddock's public API from the browser, as any client calls it: unary RPCs
// over Connect as fetch + JSON, WatchEvents as a Connect stream
// (application/connect+json envelopes) read from the response body.
// The token lives in this tab's sessionStorage only, and goes only into the
// Authorization header — never into a URL.

const TOKEN = "paddock.token";

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN);
  },
  signIn(token) {
    sessionStorage.setItem(TOKEN, token);
  },
  signOut() {
    sessionStorage.removeItem(TOKEN);
  },
};

export class ApiError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

function headers(contentType) {
  const h = { "content-type": contentType, "connect-protocol-version": "1" };
  if (session.token) h.authorization = `Bearer ${session.token}`;
  return h;
}

/** Calls `method` ("package.Service/Method") with `body`; the answer, or an ApiError. */
export async function call(method, body = {}, { signal } = {}) {
  let response;
  try {
    response = await fetch(`/${method}`, {
      method: "POST",
      headers: headers("application/json"),
      body: JSON.stringify(body),
      signal,
    });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError("unavailable", "paddock cannot be reached");
  }
  const text = await response.text();
  let data = {};
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    throw new ApiError("unknown", `an answer that is not JSON (HTTP ${response.status})`);
  }
  if (!response.ok) throw new ApiError(data.code || "unknown", data.message || response.statusText);
  return data;
}

/** Every page of a list RPC whose answer holds `field`, at most `max` items. */
export async function listAll(method, body, field, max = 1000) {
  const items = [];
  let token = "";
  do {
    const page = await call(method, { ...body, pagination: { pageSize: 100, token } });
    items.push(...(page[field] || []));
    token = page.pagination?.nextToken || "";
  } while (token && items.length < max);
  return items;
}

function envelope(message) {
  const data = new TextEncoder().encode(JSON.stringify(message));
  const framed = new Uint8Array(5 + data.length);
  new DataView(framed.buffer).setUint32(1, data.length);
  framed.set(data, 5);
  return framed;
}

/**
 * The events of a WatchEvents stream, as they come; ends with the stream
 * (an ApiError when it ends with one). Abort `signal` to stop watching.
 */
export async function* watch(request, { signal } = {}) {
  const response = await fetch("/gitpod.v1.EventService/WatchEvents", {
    method: "POST",
    headers: headers("application/connect+json"),
    body: envelope(request),
    signal,
  });
  if (!response.ok || !response.body) throw new ApiError("unavailable", `HTTP ${response.status}`);
  const reader = response.body.getReader();
  let buffer = new Uint8Array(0);
  for (;;) {
    while (buffer.length >= 5) {
      const view = new DataView(buffer.buffer, buffer.byteOffset);
      const flags = buffer[0];
      const length = view.getUint32(1);
      if (buffer.length < 5 + length) break;
      const message = JSON.parse(new TextDecoder().decode(buffer.subarray(5, 5 + length)) || "{}");
      buffer = buffer.slice(5 + length);
      if (flags & 0x02) {
        if (message.error) throw new ApiError(message.error.code, message.error.message);
        return;
      }
      yield message;
    }
    const { value, done } = await reader.read();
    if (done) return;
    const joined = new Uint8Array(buffer.length + value.length);
    joined.set(buffer);
    joined.set(value, buffer.length);
    buffer = joined;
  }
}

/**
 * Calls `refresh` shortly after anything of `resourceType` changes (a burst
 * of changes: once), until `signal` aborts; when the stream ends (a restart,
 * a gap in the events) it refreshes and watches again.
 */
export async function followChanges(signal, refresh, resourceType = "RESOURCE_TYPE_RUNNER", resourceIds = []) {
  let pending = null;
  const request = { organization: true, resourceTypeFilters: [{ resourceType, resourceIds }] };
  while (!signal.aborted) {
    try {
      for await (const _event of watch(request, { signal })) {
        clearTimeout(pending);
        pending = setTimeout(refresh, 250);
      }
    } catch {
      if (signal.aborted) return;
    }
    refresh();
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

let members = null;
/**
 * The organization's members by user id (a Map), fetched once a minute at
 * most: audit entries and memberships name people by id.
 */
export function membersById() {
  if (!members || members.at < Date.now() - 60_000) {
    const promise = call("gitpod.v1.IdentityService/GetAuthenticatedIdentity")
      .then((me) => listAll("gitpod.v1.OrganizationService/ListMembers", { organizationId: me.organizationId }, "members", 5000))
      .then((list) => new Map(list.map((m) => [m.userId, m])))
      .catch(() => new Map());
    members = { at: Date.now(), promise };
  }
  return members.promise;
}

/** Who an audit entry's actor is, in words. */
export function actorName(entry, people, runnerId = "") {
  const id = entry.actorId || "";
  if (entry.actorPrincipal === "PRINCIPAL_RUNNER") return id === runnerId ? "the runner itself" : `runner …${id.slice(-6)}`;
  if (/^0{8}-/.test(id)) return "paddock";
  const person = people.get(id);
  return person ? person.fullName || person.email || id : `user …${id.slice(-6)}`;
}
