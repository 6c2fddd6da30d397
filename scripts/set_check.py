"""Black-box check of webhooks as Security Event Tokens, used by blackbox.py: a subscription in the `set` format,
every provisioning operation, each SET verified with PyJWT (a JOSE library) against /api/v1/auth/jwks.json and its
claims checked against RFC 8417 (SET), RFC 9967 (the SCIM profile) and RFC 8935 (push delivery).

check_security_events(): the receiver answers 202 (RFC 8935 §2.2), except the first SET, which it refuses once with
400 {"err": "invalid_request", ...} (§2.3): that attempt is in the delivery log with its err and description, and the
retry carries the same jti. The signing key is rotated mid-run (`roster auth rotate-signing-key`): every SET, before
and after, verifies against the JWKS fetched when it arrived.

Loopback only; every wait is bounded; it starts only its receiver thread and the CLI commands it waits for.
"""

from __future__ import annotations

import re
import secrets
import time

from webhook_check import GROUP, USER, Receiver, Scim, call

PREFIX = "urn:ietf:params:scim:event:prov:"
# RFC 9967 §2.3-2.4: every event URI a SCIM service provider may send.
RFC9967_URIS = {"urn:ietf:params:scim:event:feed:add", "urn:ietf:params:scim:event:feed:remove", PREFIX + "delete",
                PREFIX + "activate", PREFIX + "deactivate"} | {
    PREFIX + f"{op}:{mode}" for op in ("create", "patch", "put") for mode in ("notice", "full")}
REFUSAL = {"err": "invalid_request", "description": "set_check refuses the first SET once"}


def jwks_keys(origin: str) -> dict[str, object]:
    """The published keys by kid, as PyJWT reads a JWKS."""
    import jwt

    status, document = call(f"{origin}/api/v1/auth/jwks.json", {})
    if status != 200:
        raise RuntimeError(f"GET /api/v1/auth/jwks.json answered {status}")
    return {key.key_id: key for key in jwt.PyJWKSet.from_dict(document).keys}


def verify(token: str, origin: str, issuer: str, audience: str) -> tuple[dict, dict]:
    """(header, claims) of a SET that PyJWT verified against the JWKS as it is now; raises why not."""
    import jwt

    header = jwt.get_unverified_header(token)
    # RFC 8417 §2.3: explicitly typed, so it is never taken for an access or ID token.
    if header.get("typ") != "secevent+jwt" or header.get("alg") != "EdDSA":
        raise ValueError(f"header {header}")
    keys = jwks_keys(origin)
    if header.get("kid") not in keys:
        raise ValueError(f"kid {header.get('kid')} is not in the JWKS ({sorted(keys)})")
    claims = jwt.decode(token, keys[header["kid"]], algorithms=["EdDSA"], audience=audience, issuer=issuer,
                        options={"require": ["iss", "iat", "jti", "aud", "events", "txn", "toe", "sub_id"]})
    return header, claims


def expected_payload(uri: str, payload: dict) -> str | None:
    """What is wrong with an event's payload under RFC 9967 §2.4 (notice mode), or None."""
    if uri == PREFIX + "delete":
        return None if payload == {} else "a delete has no payload attributes (§2.4.4)"
    if uri in (PREFIX + "activate", PREFIX + "deactivate"):
        return None if set(payload) <= {"version"} else f"unexpected members {sorted(payload)}"
    if not uri.endswith(":notice"):
        return "only notice events are sent"
    attributes = payload.get("attributes")
    if "data" in payload or not isinstance(attributes, list) or not attributes \
            or not all(isinstance(name, str) for name in attributes):
        return "a notice carries `attributes`, a list of attribute names, and no `data` (§2.4)"
    if not str(payload.get("version", "")).startswith('W/"'):
        return "`version` is the resource's ETag (§2.2)"
    return None


def check_security_events(origin: str, admin_key: str, scim_base: str, token: str, rotate_key, run_cli, say,
                          failures: list[str]) -> None:
    admin = {"X-Admin-API-Key": admin_key, "Content-Type": "application/json"}
    receiver = Receiver(answer=lambda n: (400, REFUSAL) if n == 0 else (202, None))
    receiver.start()
    try:
        audience = "https://blackbox.example/scim-events"
        status, created = call(f"{origin}/api/v1/webhooks", admin, {
            "url": receiver.url, "format": "set", "set_audience": audience, "description": "set check"}, "POST")
        if status != 201 or created.get("format") != "set" or created.get("set_audience") != audience:
            failures.append(f"SET: creating a subscription in the set format answered {status}: {created}")
            return
        subscription = created["id"]
        for bad in ("x" * 513, "two words", "urn:"):
            status, _ = call(f"{origin}/api/v1/webhooks/{subscription}", admin, {"set_audience": bad}, "PATCH")
            if status != 400:
                failures.append(f"SET: set_audience {bad[:20]!r} answered {status}, expected 400")

        # Every operation, and the RFC 9967 URI it must come as. Roster records an update the same way whether it
        # came by PATCH or PUT (user.updated), and sends it as the URI recorded: patch:notice.
        scim = Scim(scim_base, token)
        suffix = secrets.token_hex(4)
        operations: list[tuple[str, str, str]] = []  # (what, URI, resource path)

        def did(what: str, uri: str, path: str) -> None:
            operations.append((what, PREFIX + uri, path))

        alice = scim("POST", "/Users", {"schemas": [USER], "userName": f"set-alice-{suffix}", "externalId": f"ext-{suffix}"})["id"]
        did("create user", "create:notice", f"/Users/{alice}")
        bob = scim.user(f"set-bob-{suffix}")
        did("create user", "create:notice", f"/Users/{bob}")
        scim.patch(f"/Users/{alice}", [{"op": "replace", "path": "displayName", "value": "Alice"}])
        did("patch user", "patch:notice", f"/Users/{alice}")
        new_kid = None
        if receiver.wait(1, 30):
            rotated = rotate_key()
            match = re.search(r"signed with key ([A-Za-z0-9_-]+)", rotated)
            new_kid = match.group(1) if match else None
            say(f"SET: signing key rotated mid-run, the new key {new_kid}")
        scim("PUT", f"/Users/{alice}", {"schemas": [USER], "userName": f"set-alice-{suffix}", "externalId": f"ext-{suffix}",
                                         "displayName": "Alice A.", "title": "Engineer"})
        did("put user", "patch:notice", f"/Users/{alice}")
        scim.patch(f"/Users/{alice}", [{"op": "replace", "path": "active", "value": False}])
        did("deactivate user", "deactivate", f"/Users/{alice}")
        scim.patch(f"/Users/{alice}", [{"op": "replace", "path": "active", "value": True}])
        did("activate user", "activate", f"/Users/{alice}")
        group = scim("POST", "/Groups", {"schemas": [GROUP], "displayName": f"set-team-{suffix}", "members": [{"value": alice}]})["id"]
        did("create group", "create:notice", f"/Groups/{group}")
        did("create group's members", "patch:notice", f"/Groups/{group}")
        scim.patch(f"/Groups/{group}", [{"op": "add", "path": "members", "value": [{"value": bob}]}])
        did("add member", "patch:notice", f"/Groups/{group}")
        scim.patch(f"/Groups/{group}", [{"op": "remove", "path": f'members[value eq "{alice}"]'}])
        did("remove member", "patch:notice", f"/Groups/{group}")
        scim("DELETE", f"/Users/{bob}")
        did("delete user", "delete", f"/Users/{bob}")
        did("delete user's membership", "patch:notice", f"/Groups/{group}")
        scim("DELETE", f"/Groups/{group}")
        did("delete group", "delete", f"/Groups/{group}")

        received = receiver.wait(len(operations) + 1, 60)
        if len(received) != len(operations) + 1:
            failures.append(f"SET: {len(received)} requests within 60 s, expected {len(operations) + 1} (one retry)")
            return
        status, feed = call(f"{origin}/api/v1/events?limit=1000", admin)
        events = {event["id"]: event for event in feed.get("data", [])}
        started = int(time.time()) - 600

        tokens: list[dict] = []
        kids: list[str] = []
        for index, (headers, body) in enumerate(received):
            what = f"SET #{index}"
            if headers.get("content-type") != "application/secevent+jwt" or headers.get("accept") != "application/json":
                failures.append(f"{what}: content-type {headers.get('content-type')!r}, accept {headers.get('accept')!r} (RFC 8935 §2)")
                return
            try:
                header, claims = verify(body.decode(), origin, origin, audience)
            except Exception as err:  # PyJWT's verification errors, and ours
                failures.append(f"{what} did not verify with PyJWT against the JWKS: {type(err).__name__}: {err}")
                return
            kids.append(header["kid"])
            tokens.append(claims)
        retry, tokens = tokens[0], tokens[1:]
        if retry["jti"] != tokens[0]["jti"]:
            failures.append("SET: the retry after a 400 has another jti than the refused attempt")
        jtis = [claims["jti"] for claims in tokens]
        if len(set(jtis)) != len(jtis):
            failures.append(f"SET: a jti repeats across events: {jtis}")
        for claims, (what, uri, path) in zip(tokens, operations):
            event = events.get(claims["jti"])
            problems = []
            if event is None:
                problems.append("its jti is no event id of the feed")
            else:
                if claims["txn"] != event["transaction_id"]:
                    problems.append("txn is not the event's transaction id")
                if event["event_uri"] != uri:
                    problems.append(f"Roster recorded {event['event_uri']}")
            if "sub" in claims or "exp" in claims:
                problems.append("it has sub or exp (RFC 9967 §2.1, RFC 8417 §2.2)")
            if not (started <= claims["toe"] <= claims["iat"] <= time.time() + 5):
                problems.append(f"toe {claims['toe']} and iat {claims['iat']} are not toe <= iat <= now")
            if list(claims["events"]) != [uri] or uri not in RFC9967_URIS:
                problems.append(f"events {list(claims['events'])}, expected exactly [{uri}]")
            else:
                wrong = expected_payload(uri, claims["events"][uri])
                problems += [wrong] if wrong else []
            subject = claims["sub_id"]
            if subject.get("format") != "scim" or subject.get("uri") != path:
                problems.append(f"sub_id {subject}, expected format scim and uri {path}")
            if path == f"/Users/{alice}" and subject.get("externalId") != f"ext-{suffix}":
                problems.append("sub_id has no externalId for a user that has one")
            if problems:
                failures.append(f"SET for {what}: " + "; ".join(problems))
        if not any(f.startswith("SET") for f in failures):
            say(f"ok: SET: {len(tokens)} SETs (create, patch, put, deactivate, activate, delete, membership), each verified "
                f"by PyJWT against the JWKS (kids {sorted(set(kids))}): typ, alg, iss, aud, iat, toe, txn, unique jti, "
                "sub_id, one RFC 9967 event with its notice payload")

        # The refused attempt: in the delivery log with RFC 8935's err and description, then the 202.
        status, log = call(f"{origin}/api/v1/webhooks/{subscription}/deliveries?limit=100", admin)
        attempts = sorted(log.get("data", []), key=lambda d: (d.get("event_sequence") or 0, d["attempt"]))
        refused = [d for d in attempts if d.get("status_code") == 400]
        if len(refused) != 1 or "err invalid_request" not in (refused[0].get("error") or "") \
                or REFUSAL["description"] not in refused[0]["error"] or refused[0]["outcome"] != "retrying":
            failures.append(f"SET: the 400 is not in the delivery log as retrying with its err and description: {refused}")
        elif any(d["outcome"] != "succeeded" or d["status_code"] != 202 for d in attempts if d.get("status_code") != 400):
            failures.append(f"SET: the delivery log has attempts other than the 400 and 202s: {attempts}")
        else:
            say(f"ok: SET: a 400 {{\"err\":\"invalid_request\"}} answer is logged ({refused[0]['error']!r}) and retried with the same jti")

        jwks = jwks_keys(origin)
        if len(jwks) < 2 or new_kid not in jwks:
            failures.append(f"SET: after a rotation the JWKS has {sorted(jwks)}; the new key {new_kid} and the previous one must be there")
        else:
            # SETs move to the new key once it has been current for a minute (every replica publishes it by then).
            count, deadline, moved = len(received), time.monotonic() + 100, None
            while moved is None and time.monotonic() < deadline:
                scim.user(f"set-rotation-{secrets.token_hex(3)}")
                count += 1
                headers, body = (receiver.wait(count, 30) or [({}, b"")])[-1]
                try:
                    header, _ = verify(body.decode(), origin, origin, audience)
                except Exception as err:  # PyJWT's verification errors, and ours
                    failures.append(f"SET: after the rotation a SET did not verify: {type(err).__name__}: {err}")
                    break
                moved = header["kid"] if header["kid"] == new_kid else None
                time.sleep(0 if moved else 5)
            if moved:
                say(f"ok: SET: across a signing-key rotation every SET verifies against the JWKS ({len(jwks)} keys); "
                    f"within {100 - int(deadline - time.monotonic())} s SETs are signed by the new key")
            elif not any(f.startswith("SET: after the rotation") for f in failures):
                failures.append("SET: 100 s after a rotation SETs are still not signed by the new key")

        # The CLI makes and lists subscriptions in the format.
        run_cli("webhook", "create", "--url", "https://hooks.example.invalid/set", "--format", "set", "--description", "cli set")
        line = next((l for l in run_cli("webhook", "list").splitlines() if "cli set" in l), "")
        if "  set  " not in line:
            failures.append(f"SET: `roster webhook list` does not show the CLI-made set subscription's format: {line!r}")
        if line:
            run_cli("webhook", "delete", line.split()[0])
        call(f"{origin}/api/v1/webhooks/{subscription}", admin, None, "DELETE")
    finally:
        receiver.stop()
