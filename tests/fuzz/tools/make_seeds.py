#!/usr/bin/env python3
"""Writes the committed seed corpus (tests/fuzz/seeds/<target>/): a handful of
valid inputs per target, in the layouts paddock_fuzz (tests/fuzz/src/lib.rs) documents. Route
selectors are indices into the sorted route lists tests/fuzz/src/lib.rs builds from
the descriptors; give this script those lists as JSON (see docs/fuzzing.md).
Usage: make_seeds.py ROUTES_JSON"""
import base64, gzip, json, os, struct, sys, urllib.parse

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "seeds")
routes = json.load(open(sys.argv[1]))


def sel(kind, route):
    return routes[kind].index(route)


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field_bytes(num, value):
    return varint(num << 3 | 2) + varint(len(value)) + value


def field_varint(num, value):
    return varint(num << 3) + varint(value)


def envelope(flags, msg):
    return bytes([flags]) + struct.pack(">I", len(msg)) + msg


def gz(b):
    return gzip.compress(b, mtime=0)


RUNNER_ID = "01980000-0000-7000-8000-000000000001"
GET_RUNNER = "/gitpod.v1.RunnerService/GetRunner"
LIST_RUNNERS = "/gitpod.v1.RunnerService/ListRunners"
PARSE_CONTEXT = "/gitpod.v1.RunnerService/ParseContextURL"
EXCHANGE = "/gitpod.v1.IdentityService/ExchangeToken"
WATCH = "/gitpod.v1.EventService/WatchEvents"
REFLECT = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
HEALTH_WATCH = "/grpc.health.v1.Health/Watch"

get_runner_proto = field_bytes(1, RUNNER_ID.encode())
list_runners_proto = field_bytes(1, field_varint(1, 10) + field_bytes(2, b"tok"))
# ServerReflectionRequest: host = 1, list_services = 7
reflect_proto = field_bytes(1, b"localhost") + field_bytes(7, b"*")

# connect_request: HTTP-like text
cr = "connect_request"
write(cr, "post_json", f'POST {GET_RUNNER}\ncontent-type: application/json\nconnect-protocol-version: 1\nconnect-timeout-ms: 5000\n\n{{"runnerId":"{RUNNER_ID}"}}')
write(cr, "post_proto_api", f"POST /api{LIST_RUNNERS}\ncontent-type: application/proto\naccept-encoding: gzip\n\n".encode() + list_runners_proto)
write(cr, "post_gzip", f"POST {PARSE_CONTEXT}\ncontent-type: application/json; charset=utf-8\ncontent-encoding: gzip\n\n".encode()
      + gz(b'{"runnerId":"%s","contextUrl":"https://github.com/o/r/tree/main"}' % RUNNER_ID.encode()))
write(cr, "get_json", f"GET {LIST_RUNNERS}?connect=v1&encoding=json&message=%7B%22pagination%22%3A%7B%22pageSize%22%3A5%7D%7D\nif-none-match: \"x\"\n\n")
b64 = base64.urlsafe_b64encode(gz(get_runner_proto)).decode().rstrip("=")
write(cr, "get_proto_base64_gzip", f"GET /api{GET_RUNNER}?connect=v1&encoding=proto&base64=1&compression=gzip&message={b64}\n\n")
write(cr, "stream_json", f"POST {WATCH}\ncontent-type: application/connect+json\nconnect-accept-encoding: gzip\nconnect-timeout-ms: 1000\n\n".encode()
      + envelope(0, b'{"organization":true}'))
write(cr, "stream_proto_gzip", f"POST {REFLECT}\ncontent-type: application/connect+proto\nconnect-content-encoding: gzip\n\n".encode()
      + envelope(1, gz(reflect_proto)) + envelope(0, reflect_proto))
write(cr, "grpc_passthrough", f"POST {GET_RUNNER}\ncontent-type: application/grpc\nte: trailers\n\n".encode() + envelope(0, get_runner_proto))

# connect_post: options, route, body
cp = "connect_post"
u = lambda r: bytes([sel("unary", r)])
write(cp, "json_get_runner", b"\x01" + u(GET_RUNNER) + b'{"runnerId":"%s"}' % RUNNER_ID.encode())
write(cp, "proto_list_runners", b"\x00" + u(LIST_RUNNERS) + list_runners_proto)
write(cp, "json_harness_gzip", b"\x03" + u(PARSE_CONTEXT) + b'{"runnerId":"%s","contextUrl":"https://gitlab.com/g/s/p/-/merge_requests/7"}' % RUNNER_ID.encode())
write(cp, "proto_gzip_accept_api", b"\x1a" + u(GET_RUNNER) + get_runner_proto)
write(cp, "json_exchange", b"\x01" + u(EXCHANGE) + b'{"exchangeToken":"pdk_rex_abc"}')
write(cp, "json_list_filter", b"\x09" + u(LIST_RUNNERS) + b'{"pagination":{"pageSize":100,"token":"abc"},"filter":{"kinds":["RUNNER_KIND_REMOTE"],"creatorIds":["x"]}}')

# connect_get: route, options, query
cg = "connect_get"
g = lambda r: bytes([sel("get", r)])
write(cg, "json", g(LIST_RUNNERS) + b"\x00" + b"connect=v1&encoding=json&message=%7B%7D")
write(cg, "json_api_gzip_accept", g(GET_RUNNER) + b"\x03" + ("connect=v1&encoding=json&message=" + urllib.parse.quote('{"runnerId":"%s"}' % RUNNER_ID)).encode())
write(cg, "proto_base64", g(GET_RUNNER) + b"\x00" + b"encoding=proto&base64=1&message=" + base64.urlsafe_b64encode(get_runner_proto).rstrip(b"="))
write(cg, "proto_base64_gzip", g(LIST_RUNNERS) + b"\x00" + b"connect=v1&encoding=proto&base64=1&compression=gzip&message=" + base64.urlsafe_b64encode(gz(list_runners_proto)))

# connect_stream: options, route, envelopes
cs = "connect_stream"
a = lambda r: bytes([sel("all", r)])
write(cs, "json_watch", b"\x01" + a(WATCH) + envelope(0, b'{"organization":true}'))
write(cs, "proto_reflection_bidi", b"\x00" + a(REFLECT) + envelope(0, reflect_proto) + envelope(0, field_bytes(1, b"h") + field_bytes(4, b"grpc.health.v1.Health")))
write(cs, "proto_harness_gzip", b"\x0e" + a(REFLECT) + envelope(1, reflect_proto) + envelope(0, reflect_proto))
write(cs, "json_unary_over_stream_api", b"\x11" + a(GET_RUNNER) + envelope(0, b'{"runnerId":"%s"}' % RUNNER_ID.encode()))
write(cs, "proto_health_watch", b"\x00" + a(HEALTH_WATCH) + envelope(0, field_bytes(1, b"gitpod.v1.RunnerService")))
write(cs, "timeout_zero", b"\x20" + a(HEALTH_WATCH) + envelope(0, b""))

# connect_answer: options, route, gRPC answer text
ca = "connect_answer"
# GetRunnerResponse { runner { runner_id = 1 } } (field numbers only need to decode)
get_runner_response = field_bytes(1, field_bytes(1, RUNNER_ID.encode()))
write(ca, "proto_ok", b"\x00" + u(GET_RUNNER) + b"content-type: application/grpc\nx-meta: 1\n~grpc-status: 0\n~x-trailer: 2\n\n" + envelope(0, get_runner_response))
write(ca, "json_ok_gzip", b"\x05" + u(GET_RUNNER) + b"content-type: application/grpc\ngrpc-encoding: identity\n~grpc-status: 0\n\n" + envelope(0, get_runner_response * 80))
write(ca, "json_error_trailers", b"\x01" + u(GET_RUNNER) + b"content-type: application/grpc\n~grpc-status: 5\n~grpc-message: runner%20not%20found%3A%20%E2%9C%93\n\n")
# google.rpc.Status { code 3, message, details: Any { type_url, value } }
details = field_varint(1, 3) + field_bytes(2, b"bad") + field_bytes(3, field_bytes(1, b"type.googleapis.com/google.rpc.BadRequest") + field_bytes(2, field_bytes(1, field_bytes(1, b"runner_id") + field_bytes(2, b"not a UUID"))))
write(ca, "trailers_only_details", b"\x02" + bytes([sel("get", GET_RUNNER)]) + b"grpc-status: 3\ngrpc-message: runner_id%3A not a UUID %zz\ngrpc-status-details-bin: " + base64.b64encode(details).rstrip(b"=") + b"\n\n")
write(ca, "stream_json", b"\x07" + a(WATCH) + b"content-type: application/grpc\n~grpc-status: 0\n~x-said: 1\n\n" + envelope(0, b"") + envelope(0, field_bytes(3, b"x") * 300))
write(ca, "stream_error", b"\x03" + a(WATCH) + b"content-type: application/grpc\n~grpc-status: 16\n~grpc-message: token%20expired\n\n" + envelope(0, b""))

# context_url: the URL as text
cu = "context_url"
for name, url in [
    ("github_tree", "https://github.com/gitpod-io/gitpod/tree/main/components/server"),
    ("github_pull", "https://www.github.com/org/repo/pull/42"),
    ("gitlab_mr", "https://gitlab.com/group/sub/project/-/merge_requests/7"),
    ("gitlab_issue_old_form", "https://gitlab.example.com/group/project/issues/3"),
    ("bitbucket_cloud_src", "https://bitbucket.org/ws/repo/src/0123456789abcdef0123456789abcdef01234567/README.md"),
    ("bitbucket_server_pr", "https://bitbucket.example.com:8443/projects/PRJ/repos/repo/pull-requests/9?at=refs%2Fheads%2Ffeature%2Fx"),
    ("azure_version", "https://dev.azure.com/org/project/_git/repo?version=GBmain&path=/src/lib.rs"),
    ("azure_server_pr", "https://ado.example.com/tfs/Collection/Project/_git/Repo/pullrequest/12"),
    ("visualstudio", "https://org.visualstudio.com/project/_git/repo/commit/abc1234"),
    ("plain_git", "https://git.example.org/team/tools.git"),
    ("encoded", "https://github.com/o%2Dx/r%20e/blob/v1.0/a%3Fb/c"),
]:
    write(cu, name, url)

# page_token: page_size (i32 LE), options, token or key + edits
pt = "page_token"
key = bytes(range(16))
write(pt, "signed", struct.pack("<i", 10) + b"\x04" + key)
write(pt, "signed_other_filter_edited", struct.pack("<i", 0) + b"\x05" + key + b"\x03A\xffB")
write(pt, "garbage", struct.pack("<i", 250) + b"\x02" + b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8")
write(pt, "empty", struct.pack("<i", -1) + b"\x00")

# bearer_token: authorization header lines
bt = "bearer_token"
write(bt, "known", "Bearer pdk_pat_fuzzing-known-token")
write(bt, "spaces", "bearer   pdk_rat_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG  ")
write(bt, "two_headers", "Basic dXNlcjpwYXNz\nBearer pdk_rex_x")
write(bt, "kind", "runner_access")
