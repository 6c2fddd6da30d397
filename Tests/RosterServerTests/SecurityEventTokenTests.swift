import Crypto
import Foundation
import HTTPTypes
import RosterFeed
import RosterServer
import RosterStore
import RosterTestSupport
import SCIM
import Testing

/// A compact JWS as a receiver reads it: the decoded header and claims, and whether a key of a JWKS signed it.
struct ReceivedToken {
    let header: JSONValue
    let claims: JSONValue
    private let signingInput: Data
    private let signature: Data

    init(_ token: String) throws {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        try #require(parts.count == 3, "a compact JWS has three parts")
        header = try JSONValue.parse(Array(try #require(Base64URL.decode(parts[0]))))
        claims = try JSONValue.parse(Array(try #require(Base64URL.decode(parts[1]))))
        signingInput = Data((parts[0] + "." + parts[1]).utf8)
        signature = try #require(Base64URL.decode(parts[2]))
    }

    /// Verified by the Ed25519 key of `jwks` its `kid` names (none: false).
    func verifies(with jwks: JSONValue) -> Bool {
        let key = jwks["keys"]?.arrayValue?.first { $0["kid"] == header["kid"] }
        guard let x = key?["x"]?.stringValue.flatMap(Base64URL.decode),
            let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: x)
        else { return false }
        return publicKey.isValidSignature(signature, for: signingInput)
    }

    /// What a SET receiver checks before the claims (RFC 8417 §2.3, RFC 9967 §2.1): its type, an `events` claim, no `sub`.
    var isSecurityEventToken: Bool {
        header["typ"]?.stringValue == "secevent+jwt" && claims["events"]?.objectValue != nil && claims["sub"] == nil
    }
}

extension ServerSuite {
    @Suite("Webhooks as Security Event Tokens (RFC 8417, RFC 9967, pushed per RFC 8935)")
    struct SecurityEventTokenTests {
        static let accepted: WebhookReceiver.Responder = { _ in (.accepted, [:]) }

        /// A subscription in the SET format through the admin API; its id.
        static func subscribe(_ roster: Roster, url: String, extra: String = "", key: String? = nil) async throws -> String {
            let reply = try await roster.admin(.post, "/webhooks", key: key, body: #"{"url":"\#(url)","format":"set"\#(extra)}"#)
            #expect(reply.status == .created, "\(reply.body)")
            #expect(reply.json["format"] == "set")
            return try #require(reply.json["id"]?.stringValue)
        }

        static func jwks(_ roster: Roster) async throws -> JSONValue {
            try await roster.send(.get, "/api/v1/auth/jwks.json").json
        }

        static func tokens(_ received: [WebhookReceiver.Received]) throws -> [ReceivedToken] {
            try received.map { try ReceivedToken(String(decoding: $0.body, as: UTF8.self)) }
        }

        @Test("each event is one SET: secevent+jwt, EdDSA, a kid of the JWKS; iss, aud, jti, txn, toe, sub_id and the RFC 9967 event")
        func claims() async throws {
            try await WebhookReceiver.run(respond: Self.accepted) { receiver, url in
                try await Roster.run(configure: WebhookDeliveryTests.fast) { roster in
                    let subscription = try await Self.subscribe(roster, url: url)
                    let user = try await roster.createUser("ann", extra: #","externalId":"00u1ann","displayName":"Ann""#)
                    try await roster.patch("/Users/\(user)", #"[{"op":"replace","path":"title","value":"Engineer"}]"#)
                    try await roster.patch("/Users/\(user)", #"[{"op":"replace","path":"active","value":false}]"#)
                    try await roster.patch("/Users/\(user)", #"[{"op":"replace","path":"active","value":true}]"#)
                    let group = try await roster.createGroup("eng", members: [user])
                    try await roster.scim(.delete, "/Users/\(user)")
                    let received = try await receiver.wait(for: 8)
                    let events = try #require(try await roster.admin(.get, "/events?limit=100").json["data"]?.arrayValue)
                    try #require(received.count == 8 && events.count == 8, "\(received.count) SETs, \(events.count) events")
                    let jwks = try await Self.jwks(roster)
                    for (token, (request, event)) in zip(try Self.tokens(received), zip(received, events)) {
                        #expect(request.contentType == "application/secevent+jwt" && request.accept == "application/json")
                        #expect(request.id.isEmpty && request.signature.isEmpty, "no Standard Webhooks headers")
                        #expect(token.header["typ"] == "secevent+jwt" && token.header["alg"] == "EdDSA")
                        #expect(token.verifies(with: jwks), "signed by a key the JWKS publishes")
                        let claims = token.claims
                        #expect(claims["iss"] == .string(Roster.publicURL))
                        #expect(claims["aud"] == .string(url), "the audience defaults to the URL")
                        #expect(claims["jti"] == event["id"] && claims["txn"] == event["transaction_id"])
                        #expect(claims["sub"] == nil && claims["exp"] == nil)
                        let occurred = try #require(event["occurred_at"]?.stringValue.flatMap(SCIMDate.parse))
                        #expect(claims["toe"] == .integer(Int(occurred.timeIntervalSince1970)))
                        if case .integer(let iat)? = claims["iat"] { #expect(abs(iat - Int(Date().timeIntervalSince1970)) < 60) } else { Issue.record("iat") }
                        let uri = try #require(event["event_uri"]?.stringValue)
                        #expect(claims["events"]?.objectValue?.keys.sorted() == [uri], "exactly one event, the recorded URI")
                        let resource = "/\(event["resource_type"]?.stringValue ?? "")s/\(event["resource_id"]?.stringValue ?? "")"
                        #expect(claims["sub_id"]?["format"] == "scim" && claims["sub_id"]?["uri"] == .string(resource))
                    }
                    let payloads = try Self.tokens(received).map { $0.claims["events"]?.objectValue?.values.first }
                    #expect(payloads[0] == ["attributes": ["displayName", "externalId", "id", "userName"], "version": #"W/"1""#])
                    #expect(payloads[2] == ["version": #"W/"3""#], "deactivate: the version alone")
                    #expect(payloads[5] == ["attributes": ["members"], "version": #"W/"1""#], "members added to the new group")
                    #expect(payloads[6] == [:], "a delete carries nothing (RFC 9967 §2.4.4)")
                    #expect(payloads[7] == ["attributes": ["members"], "version": #"W/"2""#], "the deleted member leaves the group")
                    #expect(try Self.tokens(received)[0].claims["sub_id"]?["externalId"] == "00u1ann")
                    #expect(try Self.tokens(received)[4].claims["sub_id"]?["uri"] == .string("/Groups/\(group)"))
                    let (_, deliveries) = try await WebhookDeliveryTests.subscription(roster, try #require(UUID(uuidString: subscription))) { $0.1.count >= 8 }
                    #expect(deliveries.allSatisfy { $0.outcome == .succeeded && $0.statusCode == 202 })
                }
            }
        }

        @Test("the test event of a SET subscription is a SET with the OpenID SSF verification event, its subject the subscription")
        func testEvent() async throws {
            try await WebhookReceiver.run(respond: Self.accepted) { receiver, url in
                try await Roster.run { roster in
                    let id = try await Self.subscribe(roster, url: url)
                    let sent = try await roster.admin(.post, "/webhooks/\(id)/test")
                    #expect(sent.json["outcome"] == "succeeded" && sent.json["status_code"] == 202, "\(sent.body)")
                    let token = try #require(try Self.tokens(try await receiver.wait(for: 1)).first)
                    let jwks = try await Self.jwks(roster)
                    #expect(token.isSecurityEventToken && token.verifies(with: jwks))
                    #expect(token.claims["sub_id"] == ["format": "opaque", "id": .string(id)])
                    #expect(token.claims["events"]?[SecurityEventClaims.verificationEventURI]?["state"] == sent.json["event_id"])
                    #expect(token.claims["aud"] == .string(url) && token.claims["jti"] == sent.json["event_id"])
                }
            }
        }

        @Test("a 400 with RFC 8935's err and description is kept in the delivery log and retried; the retry has the same jti")
        func errorAnswer() async throws {
            let respond: WebhookReceiver.Responder = { index in
                index == 0
                    ? (.badRequest, [.contentType: "application/json"]) : (.accepted, [:])
            }
            try await WebhookReceiver.run(respond: respond) { receiver, url in
                try await Roster.run(configure: WebhookDeliveryTests.fast) { roster in
                    let subscription = try #require(UUID(uuidString: try await Self.subscribe(roster, url: url)))
                    _ = try await roster.createUser("ann")
                    let received = try Self.tokens(try await receiver.wait(for: 2))
                    try #require(received.count == 2)
                    #expect(received[0].claims["jti"] == received[1].claims["jti"])
                    let (_, deliveries) = try await WebhookDeliveryTests.subscription(roster, subscription) { $0.1.count >= 2 }
                    let log = deliveries.sorted { $0.attempt < $1.attempt }
                    #expect(log.map(\.statusCode) == [400, 202] && log.map(\.outcome) == [.retrying, .succeeded])
                    // The receiver above sends no body: the log says the status alone.
                    #expect(log.first?.error == "HTTP 400")
                }
            }
        }

        @Test("a 400's err and description reach the delivery log, printable and bounded")
        func errorBody() {
            let body = Array(#"{"err":"invalid_audience","description":"not for us\u0007"}"#.utf8)
            #expect(SecurityEventError.describe(body) == "err invalid_audience: not for us")
            #expect(SecurityEventError.describe(Array("not json".utf8)) == nil)
            let long = Array(#"{"err":"invalid_request","description":"\#(String(repeating: "x", count: 5000))"}"#.utf8)
            #expect((SecurityEventError.describe(long)?.count ?? 0) < 400)
        }

        @Test("abuse: a SET is refused as an admin access token, and an access token is not a SET")
        func notConfusable() async throws {
            try await WebhookReceiver.run(respond: Self.accepted) { receiver, url in
                try await Roster.run(configure: WebhookDeliveryTests.fast) { roster in
                    _ = try await Self.subscribe(roster, url: url)
                    _ = try await roster.createUser("ann")
                    let set = try #require(try await receiver.wait(for: 1).first)
                    let token = String(decoding: set.body, as: UTF8.self)
                    let refused = try await roster.admin(.get, "/webhooks", bearer: token)
                    #expect(refused.status == .unauthorized, "\(refused.body)")
                    _ = try await roster.createAdminUser("owner@example.com", roles: ["owner"])
                    let access = try ReceivedToken(try await roster.signIn("owner@example.com").access)
                    #expect(access.header["typ"] == "at+jwt" && !access.isSecurityEventToken)
                    #expect(try ReceivedToken(token).isSecurityEventToken)
                    #expect(access.header["kid"] == (try ReceivedToken(token)).header["kid"], "the same published keys sign both")
                }
            }
        }

        @Test("abuse: a tenant's SET subscription receives none of another tenant's events")
        func tenantIsolation() async throws {
            try await WebhookReceiver.run(respond: Self.accepted) { receiver, url in
                try await Roster.run(configure: WebhookDeliveryTests.fast) { roster in
                    _ = try await Self.subscribe(roster, url: url)
                    let other = try await roster.otherTenant("other")
                    for i in 0..<3 { _ = try await roster.createUser("b\(i)", token: other.token) }
                    let mine = try await roster.createUser("a0")
                    let received = try Self.tokens(try await receiver.wait(for: 1))
                    try await Task.sleep(for: .seconds(1))
                    #expect(await receiver.received.count == 1)
                    #expect(received.first?.claims["sub_id"]?["uri"] == .string("/Users/\(mine)"))
                }
            }
        }

        @Test("abuse: a SET carries names, never values: no password, no hash, no secret, no attribute value but externalId")
        func carriesNoSecret() async throws {
            try await WebhookReceiver.run(respond: Self.accepted) { receiver, url in
                try await Roster.run(configure: WebhookDeliveryTests.fast) { roster in
                    let created = try await roster.admin(.post, "/webhooks", body: #"{"url":"\#(url)","format":"set"}"#)
                    let secret = try #require(created.json["secret"]?.stringValue)
                    let user = try await roster.createUser(
                        "carol", extra: #","password":"Tr0ub4dor&3-horse","displayName":"Carol Secretvalue","title":"Spy""#)
                    let patched = try await roster.patch(
                        "/Users/\(user)",
                        #"[{"op":"replace","path":"password","value":"An0ther-Pa55word"},{"op":"replace","path":"title","value":"Agent"}]"#)
                    #expect(patched.status.code < 300, "\(patched.body)")
                    let received = try await receiver.wait(for: 2)
                    try #require(received.count == 2)
                    for request in received {
                        let claims = String(decoding: try ReceivedToken(String(decoding: request.body, as: UTF8.self)).claims.encoded(), as: UTF8.self)
                        for value in ["Tr0ub4dor", "An0ther", "$2", "Secretvalue", "Spy", "Agent", "carol", secret, "whsec_"] {
                            #expect(!claims.contains(value), "\(value) in \(claims)")
                        }
                    }
                }
            }
        }

        @Test("switching format while an event waits for its retry: the retry goes in the new format, same event, next attempt")
        func switchWithPending() async throws {
            let respond: WebhookReceiver.Responder = { index in index == 0 ? (.internalServerError, [:]) : (.accepted, [:]) }
            try await WebhookReceiver.run(respond: respond) { receiver, url in
                try await Roster.run(configure: { configuration in
                    configuration.webhooks.schedule = RetrySchedule(delays: [.zero, .seconds(2), .seconds(2)], jitter: 0)
                }) { roster in
                    let created = try await roster.admin(.post, "/webhooks", body: #"{"url":"\#(url)"}"#)
                    #expect(created.json["format"] == "standard_webhooks")
                    let id = try #require(created.json["id"]?.stringValue)
                    _ = try await roster.createUser("ann")
                    let first = try #require(try await receiver.wait(for: 1).first)
                    #expect(first.contentType == "application/json" && !first.id.isEmpty)
                    let switched = try await roster.admin(.patch, "/webhooks/\(id)", body: #"{"format":"set"}"#)
                    #expect(switched.status == .ok && switched.json["format"] == "set")
                    let received = try await receiver.wait(for: 2)
                    try #require(received.count == 2)
                    #expect(received[1].contentType == "application/secevent+jwt")
                    #expect(try ReceivedToken(String(decoding: received[1].body, as: UTF8.self)).claims["jti"] == .string(first.id))
                    let (after, deliveries) = try await WebhookDeliveryTests.subscription(roster, try #require(UUID(uuidString: id))) { $0.1.count >= 2 }
                    #expect(deliveries.map(\.attempt).sorted() == [1, 2] && after?.position == 1)
                }
            }
        }

        @Test("set_audience: the URL by default, a chosen value, null for the URL again; oversize or malformed ones are a 400")
        func audience() async throws {
            try await Roster.run { roster in
                let url = "https://hooks.example.com/roster"
                let created = try await roster.admin(.post, "/webhooks", body: #"{"url":"\#(url)","format":"set"}"#)
                let id = try #require(created.json["id"]?.stringValue)
                #expect(created.json["set_audience"] == .string(url))
                let chosen = try await roster.admin(.patch, "/webhooks/\(id)", body: #"{"set_audience":"https://app.example.com/scim-events"}"#)
                #expect(chosen.json["set_audience"] == "https://app.example.com/scim-events")
                let again = try await roster.admin(.patch, "/webhooks/\(id)", body: #"{"set_audience":null}"#)
                #expect(again.json["set_audience"] == .string(url))
                let bad = [String(repeating: "a", count: 513), "two words", "1a:b", "tab\\there", "", "urn:", "é"]
                for value in bad {
                    let body = #"{"url":"\#(url)","format":"set","set_audience":"\#(value)"}"#
                    try await roster.admin(.post, "/webhooks", body: body).expectAdminError(.badRequest)
                    try await roster.admin(.patch, "/webhooks/\(id)", body: #"{"set_audience":"\#(value)"}"#).expectAdminError(.badRequest)
                }
                try await roster.admin(.post, "/webhooks", body: #"{"url":"\#(url)","format":"jwt"}"#).expectAdminError(.badRequest)
                // Only an update takes null (the URL again); the document has a creation leave it out instead.
                try await roster.admin(.post, "/webhooks", body: #"{"url":"\#(url)","set_audience":null}"#).expectAdminError(.badRequest)
                #expect(try await roster.admin(.get, "/webhooks/\(id)").json["set_audience"] == .string(url), "nothing refused was kept")
            }
        }
    }
}
