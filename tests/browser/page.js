// The page under test: runs in headless Chromium, on an origin other than
// paddock's, and calls paddock through @connectrpc/connect-web with code that
// @bufbuild/protoc-gen-es generated from paddock's own protos (gen/).
//
// Query string: server=<paddock base URL>, token=<admin token>,
// label=<word put in runner names>. The outcome goes, as JSON, into
// <pre id="result">; the node script (test.mjs) reads it and judges it.

import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { RunnerService } from "./gen/gitpod/v1/runner_pb.js";
import {
  RunnerKindSchema,
  RunnerProvider,
  RunnerProviderSchema,
} from "./gen/gitpod/v1/runner_configuration_pb.js";

const params = new URLSearchParams(location.search);
const server = params.get("server");
const token = params.get("token");
const label = params.get("label") || "allowed";

const CALL_TIMEOUT_MS = 10000;

// name -> transport. The first three are what the issue asks for; the fourth
// adds the SDK's /api base URL and Connect GET (ListRunners and GetRunner are
// NO_SIDE_EFFECTS, so connect-web sends them as GET with the message in the query).
const transports = {
  "connect-proto": () => createConnectTransport({ baseUrl: server, useBinaryFormat: true }),
  "connect-json": () => createConnectTransport({ baseUrl: server, useBinaryFormat: false }),
  "grpc-web": () => createGrpcWebTransport({ baseUrl: server, useBinaryFormat: true }),
  "connect-json-get-api": () =>
    createConnectTransport({ baseUrl: `${server}/api`, useBinaryFormat: false, useHttpGet: true }),
};

function enumName(schema, number) {
  const value = schema.values.find((v) => v.number === number);
  return value ? value.name : `UNKNOWN(${number})`;
}

function describeError(e) {
  const err = ConnectError.from(e);
  const cause = err.cause;
  return {
    code: Code[err.code] ?? String(err.code),
    rawMessage: err.rawMessage,
    causeName: cause && typeof cause === "object" && "name" in cause ? cause.name : null,
    causeMessage: cause && typeof cause === "object" && "message" in cause ? String(cause.message) : null,
  };
}

function summarize(runner) {
  if (!runner) return null;
  return {
    runnerId: runner.runnerId,
    name: runner.name,
    kind: enumName(RunnerKindSchema, runner.kind),
    provider: enumName(RunnerProviderSchema, runner.provider),
  };
}

async function expectFailure(call) {
  try {
    await call();
    return { succeeded: true };
  } catch (e) {
    return { succeeded: false, ...describeError(e) };
  }
}

async function exercise(transportName, makeTransport) {
  const out = { transport: transportName };
  const client = createClient(RunnerService, makeTransport());
  const auth = { headers: { Authorization: `Bearer ${token}` }, timeoutMs: CALL_TIMEOUT_MS };
  const name = `browser runner ${transportName}${label === "allowed" ? "" : ` (${label})`}`;
  try {
    const created = await client.createRunner(
      { name, provider: RunnerProvider.LINUX_HOST },
      auth,
    );
    out.created = summarize(created.runner);
    out.exchangeTokenLength = created.exchangeToken.length;
  } catch (e) {
    // On an origin paddock does not allow, every call ends here: the
    // browser refuses the preflight, fetch rejects with a TypeError.
    out.createError = describeError(e);
  }
  if (out.created) {
    try {
      const got = await client.getRunner({ runnerId: out.created.runnerId }, auth);
      out.got = summarize(got.runner);
    } catch (e) {
      out.getError = describeError(e);
    }
  }
  try {
    const listed = [];
    let pageToken = "";
    for (let page = 0; page < 20; page++) {
      const res = await client.listRunners(
        { pagination: { pageSize: 100, token: pageToken } },
        auth,
      );
      listed.push(...res.runners.map(summarize));
      pageToken = res.pagination?.nextToken ?? "";
      if (!pageToken) break;
    }
    out.listed = listed;
  } catch (e) {
    out.listError = describeError(e);
  }
  // No credentials, and a wrong token: both must come back as a readable
  // Unauthenticated, which cross-origin needs the CORS headers on error
  // responses too (for gRPC-Web: exposed grpc-status / grpc-message).
  out.unauthenticated = await expectFailure(() =>
    client.listRunners({}, { timeoutMs: CALL_TIMEOUT_MS }),
  );
  out.badToken = await expectFailure(() =>
    client.listRunners(
      {},
      { headers: { Authorization: "Bearer not-a-valid-token" }, timeoutMs: CALL_TIMEOUT_MS },
    ),
  );
  return out;
}

// A bare cross-origin fetch with a preflighted request (JSON body plus
// Authorization): on an allowed origin it gets a response, on any other it
// rejects with a TypeError before the call reaches paddock.
async function rawFetch() {
  try {
    const res = await fetch(`${server}/gitpod.v1.RunnerService/ListRunners`, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "Connect-Protocol-Version": "1",
        Authorization: `Bearer ${token}`,
      },
      body: "{}",
    });
    return { ok: true, status: res.status };
  } catch (e) {
    return { ok: false, errorName: e?.name ?? null, errorMessage: String(e?.message ?? e) };
  }
}

async function main() {
  const result = { label, origin: location.origin, server, transports: {} };
  if (!server || !token) throw new Error("missing server or token in the query string");
  // One transport after another: each creates its own runner, and the
  // listings are easier to read without interleaving.
  for (const [name, make] of Object.entries(transports)) {
    result.transports[name] = await exercise(name, make);
  }
  result.rawFetch = await rawFetch();
  return result;
}

function publish(value) {
  const pre = document.getElementById("result");
  pre.textContent = JSON.stringify(value, null, 2);
  pre.dataset.done = "1";
}

main().then(publish, (e) => publish({ fatal: String(e?.stack ?? e) }));
