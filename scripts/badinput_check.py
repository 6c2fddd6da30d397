"""Bad-input suite: thousands of generated bad requests against a live Roster (called by scripts/blackbox.py).

A seeded generator (the same cases on every run) builds requests over five families:
filters, resource bodies (POST / PUT / Bulk), PATCH, query parameters, and headers
(including header bytes the HTTP parser refuses, sent over a raw socket). Every answer
must be:

* never a 5xx, and a 4xx unless the case is valid-but-odd input with a documented 2xx;
* on /scim/v2 an RFC 7644 §3.12 error: `schemas` = [Error], `status` = the HTTP status as a
  string, a `detail`, `application/scim+json`, and the `scimType` the case calls for;
* for a refused write, nothing written: the tenant's user and group counts and the target's
  `meta.version` are the same before and after.

It runs in its own tenant with its own SCIM token (rate limit raised for it), so other checks
neither see its resources nor share its bucket. Prints the case count, the time and each finding.

Usage alone: python3 scripts/badinput_check.py --origin http://127.0.0.1:18080 --admin-key radm_...
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import socket
import time
import urllib.parse
import uuid

SEED = 20261206
MINIMUM_CASES = 2000
TIME_BUDGET = 120  # s; a finding if the suite takes longer
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
# RFC 7644 §3.12 and RFC 9865 (cursors): the scimType values an error may carry.
SCIM_TYPES = {"invalidFilter", "tooMany", "uniqueness", "mutability", "invalidSyntax", "invalidPath", "noTarget",
              "invalidValue", "invalidVers", "sensitive", "tooLarge", "invalidCursor", "expiredCursor", "invalidCount"}
# docs/scim.md (Limits): the longest value kept for each indexed attribute.
LIMITS = {"userName": 256, "displayName": 256, "externalId": 512, "emails.value": 256}


class Case:
    """One request and what its answer may be: statuses allowed, and per 4xx status the scimTypes allowed (None: any or none)."""

    def __init__(self, family: str, method: str, path: str, *, body: bytes | None = None, headers: dict | None = None,
                 ok: set[int] = frozenset(), errors: dict[int, set[str] | None] | None = None, write: bool = False,
                 target: str | None = None, raw: bytes | None = None, name: str = ""):
        self.family, self.method, self.path, self.body = family, method, path, body
        self.headers = headers if headers is not None else {}
        self.ok, self.errors = set(ok), errors or {}
        self.write, self.target, self.raw, self.name = write, target, raw, name


def js(value) -> bytes:
    return json.dumps(value).encode()


class Suite:
    def __init__(self, origin: str, admin_key: str, say):
        parts = urllib.parse.urlsplit(origin)
        self.host, self.port = parts.hostname, parts.port or 80
        self.admin_key, self.say = admin_key, say
        self.random = random.Random(SEED)
        self.connection: http.client.HTTPConnection | None = None
        self.findings: list[str] = []
        self.token = ""
        self.user_id = self.group_id = ""

    # MARK: HTTP

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, dict, bytes]:
        for attempt in range(2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.connection.request(method, path, body=body, headers=headers or {})
                response = self.connection.getresponse()
                data = response.read()
                fields = {k.lower(): v for k, v in response.getheaders()}
                if fields.get("connection", "").lower() == "close":
                    self.connection.close()
                    self.connection = None
                return response.status, fields, data
            except (http.client.HTTPException, OSError):
                self.connection.close()
                self.connection = None
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def raw(self, payload: bytes) -> tuple[int, dict, bytes]:
        """Sends bytes as they are on a new connection; reads the answer until the server closes."""
        with socket.create_connection((self.host, self.port), timeout=10) as sock:
            try:
                sock.sendall(payload)
            except OSError:
                pass  # the server may close as soon as it has refused the head
            chunks = []
            while True:
                try:
                    chunk = sock.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
        data = b"".join(chunks)
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        if not lines or not lines[0].startswith("HTTP/1.1 "):
            return 0, {}, data
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        return int(lines[0].split(" ")[1]), fields, body

    def scim(self, method: str, path: str, body=None, extra: dict | None = None) -> tuple[int, dict, bytes]:
        headers = {"Authorization": f"Bearer {self.token}"}
        if body is not None:
            headers["Content-Type"] = "application/scim+json"
        headers.update(extra or {})
        data = body if isinstance(body, bytes) or body is None else js(body)
        return self.request(method, "/scim/v2" + path, data, headers)

    def admin(self, method: str, path: str, body=None) -> tuple[int, dict]:
        headers = {"X-Admin-API-Key": self.admin_key}
        if body is not None:
            headers["Content-Type"] = "application/json"
        status, _, data = self.request(method, "/api/v1" + path, js(body) if body is not None else None, headers)
        return status, (json.loads(data) if data else {})

    # MARK: Setup

    def setup(self) -> None:
        tenant = f"badinput-{uuid.uuid4().hex[:8]}"
        status, created = self.admin("POST", "/tenants", {"name": tenant})
        if status != 201:
            raise RuntimeError(f"creating tenant {tenant} answered {status}: {created}")
        status, token = self.admin("POST", f"/tenants/{tenant}/scim/tokens", {"name": "bad-input suite"})
        if status != 201:
            raise RuntimeError(f"creating a SCIM token answered {status}: {token}")
        self.token = token["token"]
        # Thousands of requests in two minutes: far over the default 3000/60 s.
        status, limit = self.admin("PUT", f"/tenants/{tenant}/scim/tokens/{token['id']}/rate-limit",
                                   {"requests": 1000000, "window_seconds": 1})
        if status != 200:
            raise RuntimeError(f"raising the token's rate limit answered {status}: {limit}")
        status, _, data = self.scim("POST", "/Users", {
            "schemas": [USER, ENTERPRISE], "userName": "bjensen@example.com", "displayName": "Barbara Jensen",
            "externalId": "ext-1", "name": {"givenName": "Barbara", "familyName": "Jensen"}, "active": True,
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True}],
            ENTERPRISE: {"employeeNumber": "1", "manager": {"value": "m-1"}}})
        if status != 201:
            raise RuntimeError(f"creating the suite's user answered {status}: {data[:300]!r}")
        self.user_id = json.loads(data)["id"]
        status, _, data = self.scim("POST", "/Groups", {"schemas": [GROUP], "displayName": "Suite group",
                                                        "members": [{"value": self.user_id}]})
        if status != 201:
            raise RuntimeError(f"creating the suite's group answered {status}: {data[:300]!r}")
        self.group_id = json.loads(data)["id"]

    def state(self, target: str | None) -> tuple:
        counts = []
        for kind in ("Users", "Groups"):
            _, _, data = self.scim("GET", f"/{kind}?count=0")
            counts.append(json.loads(data).get("totalResults"))
        version = None
        if target:
            _, _, data = self.scim("GET", target)
            version = json.loads(data).get("meta", {}).get("version")
        return tuple(counts), version

    # MARK: Generators

    def text(self, length: int) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyzÄéß日本語𝄞 -_.@'\"\\/"
        return "".join(self.random.choice(alphabet) for _ in range(length))

    def odd_strings(self) -> list[str]:
        return ["", " ", "\u0000", "a\u0000b", "\u202e", "\ud7ff", "日本語", "𝄞" * 10, "'; DROP TABLE users; --",
                "%00", "\\", "\"", "{}", "[]", "null", "true", "-1", "1e309", "\n", "\t", "a" * 5000]

    def filters(self) -> list[Case]:
        attributes = ["userName", "displayName", "externalId", "emails", "emails.value", "emails.type", "name.givenName",
                      "active", "meta.created", "meta.lastModified", "id", "groups", "members", "title", "nosuch",
                      f"{ENTERPRISE}:employeeNumber", f"{ENTERPRISE}:manager.value", "urn:nope:x", "emails[type eq \"work\"]",
                      "", "a.b.c", "name.", ".name", "userName[", "123"]
        operators = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr", "EQ", "Eq", "xx", "", "==", "and", "or", "not"]
        values = ['"x"', '"bjensen@example.com"', "true", "false", "null", "42", "-1.5", "1e400", '"2026-01-01T00:00:00Z"',
                  '"not a date"', '"unterminated', "'single'", '""', '"\\u0000"', '"\\x"', "[1]", "{}", "x", "",
                  '"' + "y" * 3000 + '"', '"' + "é" * 300 + '"']
        shapes = [
            lambda: f"{self.random.choice(attributes)} {self.random.choice(operators)} {self.random.choice(values)}",
            lambda: f"{self.random.choice(attributes)} pr",
            lambda: f"not ({self.random.choice(attributes)} eq {self.random.choice(values)})",
            lambda: f"({self.random.choice(attributes)} eq {self.random.choice(values)}) {self.random.choice(['and', 'or', 'xor', ''])} "
                    f"{self.random.choice(attributes)} {self.random.choice(operators)} {self.random.choice(values)}",
            lambda: "emails[" + f"type eq {self.random.choice(values)}" + self.random.choice(["]", "", "]]", "] and x"]),
            lambda: "(" * self.random.randint(1, 300) + 'userName eq "x"' + ")" * self.random.randint(0, 300),
            lambda: " and ".join(f'userName eq "{i}"' for i in range(self.random.randint(1, 400))),
            lambda: "".join(self.random.choice('()[]" andorpreq.:') for _ in range(self.random.randint(1, 60))),
            lambda: self.text(self.random.randint(0, 40)),
        ]
        cases = []
        for i in range(520):
            expression = shapes[i % len(shapes)]()
            resource = self.random.choice(["Users", "Groups"])
            errors = {400: {"invalidFilter"}, 413: None}
            if i % 4 == 3:
                body = {"schemas": [SEARCH], "filter": expression}
                cases.append(Case("filter", "POST", f"/{resource}/.search", body=js(body), ok={200}, errors=errors,
                                  name=f"POST /{resource}/.search filter={expression[:60]!r}"))
            else:
                path = f"/{resource}?filter=" + urllib.parse.quote(expression, safe="")
                cases.append(Case("filter", "GET", path, ok={200}, errors=errors, name=f"GET /{resource} filter={expression[:60]!r}"))
        # Percent-encoding a client got wrong: the query itself does not decode.
        for raw in ["%zz", "%", "%E0%A4%A", "%FF%FE", "userName%20eq%20%22%00%22", "%C0%AF"]:
            cases.append(Case("filter", "GET", f"/Users?filter={raw}", ok={200}, errors={400: {"invalidFilter"}},
                              name=f"GET /Users?filter={raw}"))
        return cases

    def valid_user(self) -> dict:
        return {"schemas": [USER], "userName": f"u-{uuid.UUID(int=self.random.getrandbits(128))}"}

    def bodies(self) -> list[Case]:
        attributes = {
            "userName": "string", "displayName": "string", "externalId": "string", "title": "string", "active": "boolean",
            "name": "complex", "emails": "multi", "phoneNumbers": "multi", "addresses": "multi", "roles": "multi",
            "x509Certificates": "multi", "nickName": "string", "locale": "string", "timezone": "string",
        }
        wrong = {
            "string": [42, 1.5, True, [], {}, ["a"], {"value": "a"}],
            "boolean": [42, "yes", [], {}, "maybe", 0],
            "complex": ["Barbara", 42, [], ["a"], True, {"nosuch": "x"}, {"givenName": 5}],
            "multi": ["x@example.com", 42, {"value": 5}, [42], ["x"], [{"nosuch": 1}], [{"value": {"deep": 1}}], True,
                      [{"value": "a", "primary": True}, {"value": "b", "primary": True}]],
        }
        cases = []
        for i in range(480):
            kind = i % 8
            body: object = self.valid_user()
            errors: dict[int, set[str] | None] = {400: {"invalidValue"}}
            path, method, target = "/Users", "POST", None
            if kind == 0:
                name = self.random.choice(list(attributes))
                body[name] = self.random.choice(wrong[attributes[name]])
            elif kind == 1:
                name = self.random.choice(list(LIMITS))
                length = LIMITS[name] + self.random.randint(1, 3000)
                value = self.text(length)
                while len(value) <= LIMITS[name]:
                    value += "x"
                if name == "emails.value":
                    body["emails"] = [{"value": value}]
                else:
                    body[name] = value
            elif kind == 2:
                body[self.random.choice(["nosuch", "urn:nope:x", "name.givenName", "emails[type eq \"work\"]", ""])] = "x"
            elif kind == 3:
                body = self.random.choice([[], "x", 42, None, True, {"schemas": "x", "userName": "a"}, {"userName": "a"},
                                           {"schemas": [], "userName": "a"}, {"schemas": ["urn:nope"], "userName": "a"},
                                           {"schemas": [USER]}, {"schemas": [USER], "userName": None}, {"schemas": [USER], "userName": ""}])
                errors = {400: {"invalidSyntax", "invalidValue"}}
            elif kind == 4:
                raw = self.random.choice([b"{", b"", b"{\"schemas\":", b"\xff\xfe", b"{\"a\":1}{", b"[" * 5000 + b"]" * 5000,
                                          b"{\"userName\":\"\\ud800\"}", b"nul", b"{\"schemas\":[\"" + USER.encode() + b"\"],\"userName\":\"a\",}"])
                body = raw
                errors = {400: {"invalidSyntax", "invalidValue"}}
            elif kind == 5:
                body = {"schemas": [GROUP], "displayName": self.random.choice([42, None, "", [], "g" * 300, {"x": 1}])}
                if self.random.random() < 0.5:
                    body["displayName"] = "g"
                    body["members"] = self.random.choice([[{"value": "not-a-uuid"}], [{"value": str(uuid.uuid4())}], "x", [42],
                                                          [{"value": self.user_id, "type": "Nope"}], {"value": self.user_id}])
                path = "/Groups"
            elif kind == 6:
                name = self.random.choice(list(attributes))
                body[name] = self.random.choice(wrong[attributes[name]])
                method, path, target = "PUT", f"/Users/{self.user_id}", f"/Users/{self.user_id}"
            else:
                body[ENTERPRISE] = self.random.choice(["x", 42, [], {"manager": 42}, {"nosuch": 1}, {"employeeNumber": []},
                                                       {"manager": {"value": 5}}, {"manager": []}])
                body["schemas"] = [USER, ENTERPRISE]
            data = body if isinstance(body, bytes) else js(body)
            cases.append(Case("body", method, path, body=data, ok=set(), errors={**errors, 413: {"tooLarge"}}, write=True,
                              target=target, name=f"{method} {path} {data[:80]!r}"))
        # Bulk: each refused operation answers its own SCIM error; the others still run (checked by the counts staying put).
        for i in range(40):
            name = self.random.choice(list(LIMITS))
            data = self.valid_user()
            if name == "emails.value":
                data["emails"] = [{"value": "e" * (LIMITS[name] + 1)}]
            else:
                data[name] = "x" * (LIMITS[name] + 1 + i)
            body = {"schemas": [BULK], "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "a", "data": data},
                {"method": "PATCH", "path": f"/Users/{self.user_id}",
                 "data": {"schemas": [PATCH_OP], "Operations": self.random.choice([[], [{"op": "replace", "path": "name", "value": "x"}],
                                                                                   [{"op": "add", "path": "emails", "value": "x@y"}]])}}]}
            cases.append(Case("bulk", "POST", "/Bulk", body=js(body), ok={200}, errors={400: None}, write=True,
                              target=f"/Users/{self.user_id}", name=f"POST /Bulk with {name} too long"))
        return cases

    def patches(self) -> list[Case]:
        paths = ["name", "name.givenName", "emails", "emails.value", 'emails[type eq "work"]', 'emails[type eq "work"].value',
                 "phoneNumbers", "active", "userName", "displayName", "externalId", "title", "id", "meta", "schemas",
                 "meta.version", "groups", "nosuch", "name.nosuch", 'emails[nosuch eq "x"]', "emails[", 'emails[type eq "home"]',
                 f"{ENTERPRISE}:manager", f"{ENTERPRISE}:employeeNumber", ENTERPRISE, "urn:nope:x", "", "   ", "a..b",
                 'emails[type eq "work"].nosuch', 'name[givenName eq "x"]']
        complex_paths = {"name", "emails", "phoneNumbers", 'emails[type eq "work"]', 'emails[type eq "home"]'}
        values = ["x", 42, True, None, [], {}, ["x"], [42], {"givenName": "B"}, {"value": "a@b.c"}, [{"value": "a@b.c"}],
                  [{"value": 5}], "False", "true", {"nosuch": 1}, "y" * 600]
        ops = ["add", "replace", "remove", "Add", "REPLACE", "Remove", "delete", "copy", "", 42, None]
        cases = []
        for i in range(600):
            operation: dict = {}
            op = self.random.choice(ops)
            if op is not None:
                operation["op"] = op
            path = self.random.choice(paths + [None])
            if path is not None:
                operation["path"] = path
            value = self.random.choice(values + ["<absent>"])
            if value != "<absent>":
                operation["value"] = value
            if path is None and self.random.random() < 0.5:
                operation["value"] = {self.random.choice(paths[:12]): self.random.choice(values)}
            if i % 10 == 0:
                operation = self.random.choice(["x", 42, [], None, {"op": "add"}])
            operations = [operation] if i % 7 else [operation] * self.random.randint(2, 4)
            body = {"schemas": [PATCH_OP], "Operations": operations}
            if i % 13 == 0:
                body = self.random.choice([{"schemas": [PATCH_OP], "Operations": []}, {"schemas": [PATCH_OP]},
                                           {"Operations": operations}, {"schemas": [PATCH_OP], "Operations": "x"},
                                           {"schemas": ["urn:nope"], "Operations": operations}, [], "x"])
            errors = {400: {"invalidSyntax", "invalidValue", "invalidPath", "noTarget", "mutability", "invalidFilter"}, 409: {"uniqueness"}}
            ok = {200, 204}
            target = self.random.choice([f"/Users/{self.user_id}", f"/Groups/{self.group_id}"]) if i % 5 == 0 else f"/Users/{self.user_id}"
            # Known-bad shapes the issue names: a scalar for a User's complex attribute is invalidValue, never accepted
            # (on a Group those paths name no attribute: invalidPath).
            if (isinstance(body, dict) and body.get("Operations") == operations and body.get("schemas") == [PATCH_OP]
                    and isinstance(operation, dict) and str(operation.get("op", "")).lower() in ("add", "replace")
                    and operation.get("path") in complex_paths and isinstance(operation.get("value"), (str, int, bool))):
                ok, errors = set(), {400: {"invalidValue"} if target.startswith("/Users") else {"invalidPath"}}
            if body == {"schemas": [PATCH_OP], "Operations": []}:
                ok, errors = set(), {400: {"invalidSyntax"}}
            cases.append(Case("patch", "PATCH", target, body=js(body), ok=ok, errors=errors, write=True, target=target,
                              name=f"PATCH {target.split('/')[1]} {json.dumps(body)[:120]}"))
        return cases

    def parameters(self) -> list[Case]:
        names = ["count", "startIndex", "sortBy", "sortOrder", "attributes", "excludedAttributes", "cursor", "filter", "nosuch"]
        values = ["-1", "0", "1", "1000000000000000000000", "abc", "1.5", "", " ", "%00", "userName", "nosuch", "descending",
                  "sideways", "emails.value", "name.", "urn:nope:x", "a,b,,c", "x" * 3000, "ü", "NaN", "+5", "0x10"]
        errors = {400: {"invalidValue", "invalidFilter", "invalidCursor", "expiredCursor", "invalidCount", "invalidPath", "invalidSyntax"}}
        cases = []
        for i in range(300):
            pairs = [(self.random.choice(names), self.random.choice(values)) for _ in range(self.random.randint(1, 3))]
            query = "&".join(f"{k}={urllib.parse.quote(v, safe='')}" for k, v in pairs)
            resource = self.random.choice(["/Users", "/Groups", f"/Users/{self.user_id}", f"/Groups/{self.group_id}"])
            cases.append(Case("parameter", "GET", f"{resource}?{query}", ok={200}, errors=errors, name=f"GET {resource}?{query[:100]}"))
        for i in range(60):
            resource = self.random.choice(["Users", "Groups", "Nope", "Users/not-a-uuid", f"Users/{uuid.uuid4()}",
                                           "Users/%00", "Users/" + "x" * 2000, "Groups/../Users", "Users/.search", "Bulk"])
            method = self.random.choice(["GET", "DELETE", "PUT", "PATCH", "POST", "OPTIONS", "TRACE"])
            cases.append(Case("parameter", method, f"/{resource}", body=b"{}" if method in ("PUT", "PATCH", "POST") else None,
                              ok={200} if method == "GET" and resource in ("Users", "Groups") else set(),
                              errors={400: None, 404: None, 405: None, 409: None, 413: None}, write=method in ("PUT", "PATCH", "POST", "DELETE"),
                              name=f"{method} /{resource[:60]}"))
        return cases

    def header_cases(self) -> list[Case]:
        user = js(self.valid_user())
        cases = []
        content_types = ["text/plain", "application/xml", "garbage", "", "application/json; charset=latin1", "multipart/form-data",
                         "application/scim+json; charset=utf-16"]
        authorizations = ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer scim_" + "x" * 43, "Bearer " + "x" * 5000,
                          "bearer scim_nope", "Token abc", "Bearer \u00e9"]
        for i in range(150):
            kind = i % 5
            headers = {"Authorization": f"Bearer {self.token}"}
            ok: set[int] = set()
            errors: dict[int, set[str] | None] = {400: None, 406: None, 415: None}
            method, path, body = "GET", "/Users", None
            if kind == 0:
                method, path, body = "POST", "/Users", js(self.valid_user())
                headers["Content-Type"] = self.random.choice(content_types)
                ok = {201}  # Content-Type is documented as tolerated: IdPs send application/json
            elif kind == 1:
                headers["Authorization"] = self.random.choice(authorizations).encode("utf-8").decode("latin-1")
                errors = {401: None}
            elif kind == 2:
                headers["Accept"] = self.random.choice(["text/html", "application/xml", "*/*", "garbage", "", "application/json;q=0"])
                ok = {200}
            elif kind == 3:
                method, path, body = "PUT", f"/Users/{self.user_id}", user
                headers["Content-Type"] = "application/scim+json"
                headers["If-Match"] = self.random.choice(['W/"999"', "garbage", '"', "*, W/\"1\"", "", 'W/"-1"', "W/" + "9" * 40])
                ok, errors = {200}, {400: None, 409: {"uniqueness"}, 412: None}
            else:
                headers["X-Request-Id"] = self.random.choice(["", "x" * 500, "a b", "ü", "\t", "ok-1"])
                ok = {200}
            cases.append(Case("header", method, path, body=body, headers=headers, ok=ok, errors=errors, write=method != "GET",
                              target=path if method == "PUT" else None, name=f"{method} {path} headers={list(headers.items())[-1]!r}"[:160]))
        # Bytes the HTTP/1.1 parser refuses: a SCIM error body, 400 invalidSyntax (431 when too large), never an empty answer.
        bad_lines = [b"X-Bad: a\x01b", b"X-Bad: \x7f", b"Bad Name: x", b": empty", b"X-Nul: a\x00b", b"X-Bad\x01: x",
                     b"Content-Length: -5", b"Content-Length: abc", b"Transfer-Encoding: chunked\r\nContent-Length: 5",
                     b"X-Big: " + b"a" * 100_000, b"X-Cr: a\rb"]
        for i in range(60):
            line = bad_lines[i % len(bad_lines)]
            method = [b"GET", b"POST", b"PATCH"][i % 3]
            target = [b"/scim/v2/Users", b"/scim/v2/Groups", b"/api/v1/tenants", b"/scim/v2/Users/" + self.user_id.encode()][i % 4]
            payload = method + b" " + target + b" HTTP/1.1\r\nHost: x\r\n" + line + b"\r\n\r\n"
            errors = {431: None} if line.startswith(b"X-Big") else {400: {"invalidSyntax"}}
            cases.append(Case("header-bytes", method.decode(), target.decode(), raw=payload, errors=errors,
                              name=f"raw {method.decode()} {target.decode()} {line[:30]!r}"))
        for request_line in [b"GET /scim/v2/Users HTTP/9.9", b"GET  HTTP/1.1", b"G\x01T /scim/v2/Users HTTP/1.1", b"GET /scim/v2/\x01 HTTP/1.1"]:
            cases.append(Case("header-bytes", "GET", "/", raw=request_line + b"\r\nHost: x\r\n\r\n", errors={400: {"invalidSyntax"}},
                              name=f"raw request line {request_line[:40]!r}"))
        return cases

    # MARK: Checking

    def check(self, case: Case) -> None:
        before = self.state(case.target) if case.write else None
        if case.raw is not None:
            status, fields, data = self.raw(case.raw)
        else:
            headers = case.headers if case.family == "header" else {"Authorization": f"Bearer {self.token}",
                                                                       **({"Content-Type": "application/scim+json"} if case.body is not None else {})}
            status, fields, data = self.request(case.method, "/scim/v2" + case.path if case.raw is None else case.path, case.body, headers)
        problem = self.judge(case, status, fields, data)
        if problem is None and case.write and not (200 <= status < 300):
            after = self.state(case.target)
            if after != before:
                problem = f"refused with {status}, yet something was written: counts/version {before} -> {after}"
        if problem:
            self.findings.append(f"{case.family}: {case.name}: {problem}")

    def judge(self, case: Case, status: int, fields: dict, data: bytes) -> str | None:
        if status == 0:
            return f"no HTTP answer ({data[:80]!r})"
        if status >= 500:
            return f"{status} {data[:200]!r}"
        if 200 <= status < 300:
            return None if status in case.ok else f"accepted ({status}) where a 4xx was due: {data[:150]!r}"
        if status == 401 and case.family != "header":
            return f"401 with the suite's own token: {data[:150]!r}"
        if status not in case.errors:
            return f"unexpected status {status}: {data[:200]!r}"
        if not fields.get("content-type", "").startswith("application/scim+json"):
            return f"{status} without application/scim+json (content-type {fields.get('content-type')!r}): {data[:120]!r}"
        try:
            error = json.loads(data)
        except ValueError:
            return f"{status} whose body is not JSON: {data[:120]!r}"
        if not isinstance(error, dict) or error.get("schemas") != [ERROR]:
            return f"{status} whose body is not a SCIM error: {data[:150]!r}"
        if error.get("status") != str(status) or not error.get("detail"):
            return f"SCIM error with status {error.get('status')!r} / detail {error.get('detail')!r} on a {status}"
        scim_type = error.get("scimType")
        if scim_type is not None and scim_type not in SCIM_TYPES:
            return f"unknown scimType {scim_type!r}"
        allowed = case.errors[status]
        if allowed is not None and scim_type not in allowed:
            return f"{status} with scimType {scim_type!r}, expected one of {sorted(allowed)}: {error.get('detail')!r}"
        return None

    def run(self) -> int:
        self.setup()
        cases = self.filters() + self.bodies() + self.patches() + self.parameters() + self.header_cases()
        started = time.monotonic()
        for case in cases:
            try:
                self.check(case)
            except Exception as err:  # a dropped connection is a finding too
                self.findings.append(f"{case.family}: {case.name}: {type(err).__name__}: {err}")
        elapsed = time.monotonic() - started
        families = {}
        for case in cases:
            families[case.family] = families.get(case.family, 0) + 1
        summary = ", ".join(f"{name} {count}" for name, count in families.items())
        self.say(f"bad-input suite: {len(cases)} cases ({summary}) in {elapsed:.0f} s, {len(self.findings)} finding(s)")
        if len(cases) < MINIMUM_CASES:
            self.findings.append(f"only {len(cases)} cases; the suite must generate at least {MINIMUM_CASES}")
        if elapsed > TIME_BUDGET:
            self.findings.append(f"took {elapsed:.0f} s, over its {TIME_BUDGET} s budget")
        return len(cases)


def check_badinput(origin: str, admin_key: str, say, failures: list[str]) -> None:
    suite = Suite(origin, admin_key, say)
    try:
        suite.run()
    except Exception as err:
        failures.append(f"bad-input suite could not run: {type(err).__name__}: {err}")
        return
    for finding in suite.findings[:50]:
        say(f"bad-input finding: {finding}")
    if suite.findings:
        failures.append(f"bad-input suite: {len(suite.findings)} finding(s) (listed above)")
    else:
        say("ok: bad-input suite: every bad request got its 4xx SCIM error, nothing partially written")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--origin", required=True)
    parser.add_argument("--admin-key", required=True)
    args = parser.parse_args()
    problems: list[str] = []
    check_badinput(args.origin, args.admin_key, print, problems)
    for problem in problems:
        print(f"FAIL: {problem}")
    raise SystemExit(1 if problems else 0)
