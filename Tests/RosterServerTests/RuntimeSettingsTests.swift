import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import RosterAuth
import RosterFeed
import RosterServer
import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("Runtime settings: GET/PUT /api/v1/config")
    struct RuntimeSettingsTests {
        /// A PUT of the settings (or of `path`), with `If-Match` when given, by the owner's key or the one given.
        static func put(
            _ roster: Roster, _ body: String, ifMatch: String?, path: String = "/api/v1/config", key: String? = nil
        ) async throws -> Reply {
            var headers: HTTPFields = [.init("X-Admin-API-Key")!: key ?? roster.adminKey, .contentType: "application/json"]
            if let ifMatch { headers[.ifMatch] = ifMatch }
            return try await roster.send(.put, path, headers: headers, body: body)
        }

        static let issuersPath = "/api/v1/config/trusted-issuers"

        static func configUpdates(_ roster: Roster) async throws -> [JSONValue] {
            try await roster.admin(.get, "/audit?action=config.updated").json["data"]?.arrayValue ?? []
        }

        @Test("GET shows the process configuration's settings at version 0, with the ETag \"0\"")
        func defaults() async throws {
            try await Roster.run { roster in
                let reply = try await roster.admin(.get, "/config")
                #expect(reply.status == .ok, "\(reply.body)")
                #expect(reply.headers[.eTag] == "\"0\"")
                #expect(reply.json["version"] == 0)
                #expect(reply.json["overridden"] == [])
                #expect(reply.json["list_page_size"] == ["default": 100, "max": 1000])
                #expect(reply.json["rate_limits"] == ["scim": "3000/60s", "admin": "1200/60s"])
                #expect(reply.json["webhook_retry_schedule"] == [0, 5, 300, 1800, 7200, 18000, 36000, 36000])
                #expect(reply.json["trusted_issuers"] == nil, "trusted issuers are not a config section: they need '*'")
                let issuers = try await roster.admin(.get, "/config/trusted-issuers")
                #expect(issuers.status == .ok, "\(issuers.body)")
                #expect(issuers.headers[.eTag] == "\"0\"")
                #expect(issuers.json == ["trusted_issuers": [], "version": 0, "overridden": false])
            }
        }

        @Test("PUT with the current ETag replaces the document, answers it with the next ETag; a section left out falls back")
        func replace() async throws {
            try await Roster.run { roster in
                let reply = try await Self.put(roster, #"{"list_page_size":{"default":2,"max":5}}"#, ifMatch: "\"0\"")
                #expect(reply.status == .ok, "\(reply.body)")
                #expect(reply.headers[.eTag] == "\"1\"")
                #expect(reply.json["version"] == 1)
                #expect(reply.json["overridden"] == ["list_page_size"])
                #expect(reply.json["list_page_size"] == ["default": 2, "max": 5])
                let read = try await roster.admin(.get, "/config")
                #expect(read.headers[.eTag] == "\"1\"")
                #expect(read.json["list_page_size"] == ["default": 2, "max": 5])
                #expect(read.json["webhook_retry_schedule"] == [0, 5, 300, 1800, 7200, 18000, 36000, 36000], "the process configuration's")

                // A GET's answer can be sent back as it is (its read-only members are ignored).
                let back = try await Self.put(roster, read.body, ifMatch: "\"1\"")
                #expect(back.status == .ok, "\(back.body)")
                #expect(back.json["overridden"] == ["rate_limits", "list_page_size", "webhook_retry_schedule"])
                let cleared = try await Self.put(roster, "{}", ifMatch: "\"2\"")
                #expect(cleared.headers[.eTag] == "\"3\"")
                #expect(cleared.json["overridden"] == [])
                #expect(cleared.json["list_page_size"] == ["default": 100, "max": 1000])
            }
        }

        @Test("a stale or weak If-Match is 412 and writes nothing; several tags match when one is current; * matches any")
        func stale() async throws {
            try await Roster.run { roster in
                #expect(try await Self.put(roster, #"{"list_page_size":{"default":2,"max":5}}"#, ifMatch: "\"0\"").status == .ok)
                let stale = try await Self.put(roster, #"{"list_page_size":{"default":7,"max":9}}"#, ifMatch: "\"0\"")
                stale.expectAdminError(.preconditionFailed)
                #expect(stale.json["error"]?["code"] == "precondition_failed")
                try await Self.put(roster, #"{"list_page_size":{"default":7,"max":9}}"#, ifMatch: "W/\"1\"").expectAdminError(.preconditionFailed)
                let read = try await roster.admin(.get, "/config")
                #expect(read.json["version"] == 1)
                #expect(read.json["list_page_size"] == ["default": 2, "max": 5])
                #expect(try await Self.configUpdates(roster).count == 1)

                #expect(try await Self.put(roster, "{}", ifMatch: "\"0\", \"1\"").headers[.eTag] == "\"2\"")
                #expect(try await Self.put(roster, "{}", ifMatch: "*").headers[.eTag] == "\"3\"")
            }
        }

        @Test("a PUT without If-Match is 428 and writes nothing")
        func missingIfMatch() async throws {
            try await Roster.run { roster in
                let reply = try await Self.put(roster, #"{"list_page_size":{"default":2,"max":5}}"#, ifMatch: nil)
                reply.expectAdminError(.init(code: 428))
                #expect(reply.json["error"]?["message"]?.stringValue?.contains("If-Match") == true)
                #expect(try await roster.admin(.get, "/config").json["version"] == 0)
                #expect(try await Self.configUpdates(roster).isEmpty)
            }
        }

        @Test("invalid values are 400 naming the field, and nothing is written")
        func invalid() async throws {
            let https = #""issuer":"https://idp.example.test","audience":"api://roster","jwksURL":"https://idp.example.test/keys""#
            let cases: [(String, String)] = [
                (#"{"list_page_size":{"default":0,"max":10}}"#, "'list_page_size.default'"),
                (#"{"list_page_size":{"default":50,"max":10}}"#, "'list_page_size.max'"),
                (#"{"list_page_size":{"default":"ten","max":10}}"#, "'list_page_size.default'"),
                (#"{"list_page_size":{"default":10}}"#, "'list_page_size.max'"),
                (#"{"webhook_retry_schedule":[0,5,-1]}"#, "'webhook_retry_schedule[2]'"),
                (#"{"webhook_retry_schedule":[]}"#, "'webhook_retry_schedule'"),
                (#"{"rate_limits":{"scim":"fast","admin":"off"}}"#, "'rate_limits.scim'"),
                (#"{"rate_limits":{"scim":"off","admin":"0/60s"}}"#, "'rate_limits.admin'"),
                (#"{"list_page_sizes":{"default":10,"max":10}}"#, "'list_page_sizes'"),
                (#"{"trusted_issuers":[{\#(https)}]}"#, "/api/v1/config/trusted-issuers"),
                (#"{"trusted_issuers":null}"#, "'*'"),
            ]
            let issuerCases: [(String, String)] = [
                (#"{"trusted_issuers":[{\#(https),"algorithms":["HS256"]}]}"#, "'trusted_issuers[0]'"),
                (#"{"trusted_issuers":[{"issuer":"https://idp.example.test","audience":"api://roster","jwksURL":"http://idp.example.test/keys"}]}"#, "'jwksURL'"),
                (#"{"trusted_issuers":[{"issuer":"https://idp.example.test","jwksURL":"https://idp.example.test/keys"}]}"#, "'trusted_issuers[0].audience'"),
                (#"{"trusted_issuers":[{\#(https),"roleMaping":[]}]}"#, "'trusted_issuers[0].roleMaping'"),
                (#"{"trusted_issuers":[{\#(https),"directoryTenant":["default"]}]}"#, "'trusted_issuers[0].directoryTenant'"),
                (#"{"trusted_issuers":[{\#(https),"directoryTenants":[""]}]}"#, "'directoryTenants[0]'"),
                (#"{"trusted_issuers":[{\#(https),"allowUntypedAccessTokens":"yes"}]}"#, "allowUntypedAccessTokens"),
                (#"{"trusted_issuers":[{\#(https)},{\#(https)}]}"#, "'trusted_issuers'"),
                (#"{"trusted_issuer":[]}"#, "'trusted_issuer'"),
            ]
            try await Roster.run { roster in
                for (body, field) in cases {
                    let reply = try await Self.put(roster, body, ifMatch: "\"0\"")
                    reply.expectAdminError(.badRequest)
                    #expect(reply.json["error"]?["message"]?.stringValue?.contains(field) == true, "\(body): \(reply.body)")
                }
                for (body, field) in issuerCases {
                    let reply = try await Self.put(roster, body, ifMatch: "\"0\"", path: Self.issuersPath)
                    reply.expectAdminError(.badRequest)
                    #expect(reply.json["error"]?["message"]?.stringValue?.contains(field) == true, "\(body): \(reply.body)")
                }
                let hs256 = try await Self.put(roster, #"{"trusted_issuers":[{\#(https),"algorithms":["HS256"]}]}"#, ifMatch: "\"0\"", path: Self.issuersPath)
                #expect(hs256.json["error"]?["message"]?.stringValue?.contains("HS256") == true, "\(hs256.body)")
                #expect(try await roster.admin(.get, "/config").json["version"] == 0)
                #expect(try await Self.configUpdates(roster).isEmpty)
            }
        }

        @Test("config.updated is audited: the sections that changed and the new version, issuers by their issuer URL only")
        func audited() async throws {
            try await Roster.run { roster in
                let issuer = #"{"issuer":"https://idp.example.test","audience":"aud-sentinel","jwksURL":"https://idp.example.test/keys?key=query-sentinel"}"#
                let reply = try await Self.put(roster, #"{"trusted_issuers":[\#(issuer)]}"#, ifMatch: "\"0\"", path: Self.issuersPath)
                #expect(reply.status == .ok, "\(reply.body)")
                let audit = try await roster.admin(.get, "/audit?action=config.updated")
                let entries = audit.json["data"]?.arrayValue ?? []
                #expect(entries.count == 1)
                let entry = try #require(entries.first)
                #expect(entry["target"] == ["type": "config"])
                #expect(entry["tenant_id"] == nil)
                #expect(entry["actor"]?["type"] == "admin_key")
                #expect(entry["details"] == ["sections": ["trusted_issuers"], "version": 1, "trusted_issuers": ["https://idp.example.test"]])
                #expect(!audit.body.contains("sentinel"), "\(audit.body)")

                _ = try await Self.put(roster, #"{"list_page_size":{"default":3,"max":5}}"#, ifMatch: "\"1\"")
                let second = try await Self.configUpdates(roster).last
                #expect(second?["details"] == ["sections": ["list_page_size"], "version": 2], "the stored issuers are kept, so not a change")
            }
        }

        @Test("changed rate-limit defaults limit SCIM tokens at once, without a restart")
        func rateLimits() async throws {
            try await Roster.run { roster in
                #expect(try await roster.scim(.get, "/Users").headers[.init("RateLimit-Policy")!] == #""scim";q=3000;w=60"#)
                #expect(try await Self.put(roster, #"{"rate_limits":{"scim":"2/60s","admin":"off"}}"#, ifMatch: "\"0\"").status == .ok)
                let first = try await roster.scim(.get, "/Users")
                #expect(first.headers[.init("RateLimit-Policy")!] == #""scim";q=2;w=60"#, "\(first.headers)")
                _ = try await roster.scim(.get, "/Users")
                try await roster.scim(.get, "/Users").expectScimError(.tooManyRequests)
                #expect(try await roster.admin(.get, "/tenants").headers[.init("RateLimit-Policy")!] == nil, "admin limiting is off")
            }
        }

        @Test("a changed page size changes a SCIM list's default and largest page, and ServiceProviderConfig says so")
        func pageSize() async throws {
            try await Roster.run { roster in
                for name in ["a", "b", "c"] { _ = try await roster.createUser(name) }
                #expect(try await roster.scim(.get, "/Users").json["itemsPerPage"] == 3)
                #expect(try await Self.put(roster, #"{"list_page_size":{"default":1,"max":2}}"#, ifMatch: "\"0\"").status == .ok)
                let list = try await roster.scim(.get, "/Users")
                #expect(list.json["itemsPerPage"] == 1)
                #expect(list.json["totalResults"] == 3)
                #expect(try await roster.scim(.get, "/Users?count=3").json["itemsPerPage"] == 2, "count is clamped to max")
                let config = try await roster.send(.get, "/scim/v2/ServiceProviderConfig").json
                #expect(config["pagination"]?["defaultPageSize"] == 1)
                #expect(config["pagination"]?["maxPageSize"] == 2)
            }
        }

        @Test("another replica on the same database sees a PUT within a few seconds")
        func replica() async throws {
            try await Roster.run { roster in
                for name in ["a", "b", "c"] { _ = try await roster.createUser(name) }
                var configuration = RosterConfiguration(
                    databaseURL: roster.databaseURL, publicURL: Roster.publicURL, logLevel: .warning, databaseMaxConnections: 4,
                    healthLatencyBudgetMilliseconds: 60_000)
                configuration.webhooksEnabled = false
                configuration.secrets = TestSecrets.atRest
                let app = try buildApplication(configuration, logger: try TestPostgres.require().logger)
                try await testApplication(app, .router) { client in
                    let other = Roster(
                        client: client, databaseURL: roster.databaseURL, scimToken: roster.scimToken, adminKey: roster.adminKey,
                        bootstrapKey: roster.bootstrapKey)
                    #expect(try await other.scim(.get, "/Users").json["itemsPerPage"] == 3)
                    #expect(try await Self.put(roster, #"{"list_page_size":{"default":1,"max":2}}"#, ifMatch: "\"0\"").status == .ok)
                    let start = ContinuousClock.now
                    var seen = try await other.scim(.get, "/Users").json["itemsPerPage"]
                    while seen != 1 && ContinuousClock.now - start < .seconds(15) {
                        try await Task.sleep(for: .milliseconds(100))
                        seen = try await other.scim(.get, "/Users").json["itemsPerPage"]
                    }
                    #expect(seen == 1, "the other replica still lists \(String(describing: seen)) per page")
                    #expect(ContinuousClock.now - start < .seconds(10))
                }
            }
        }

        @Test("trusted issuers set through PUT make an issuer's token work at once, and removing them stops it")
        func trustedIssuers() async throws {
            let key = TestIssuerKey.es256()
            let issuer = "https://login.example.test/runtime"
            try await JWKSServer.run(publishing: [key]) { _, url in
                try await Roster.run(configure: { $0.identity.allowInsecureLoopbackJWKS = true }) { roster in
                    let now = Date()
                    let token = key.token([
                        "iss": .string(issuer), "aud": "api://roster", "sub": "00u-ada", "email": "ada@example.com", "groups": ["roster-auditors"],
                        "iat": TestJWT.seconds(now), "nbf": TestJWT.seconds(now), "exp": TestJWT.seconds(now.addingTimeInterval(600)),
                    ])
                    try await roster.admin(.get, "/audit", bearer: token).expectAdminError(.unauthorized)
                    let body = #"""
                        {"trusted_issuers":[{"issuer":"\#(issuer)","audience":"api://roster","jwksURL":"\#(url.absoluteString)",
                          "rolesClaim":"groups","roleMappings":[{"claimValue":"roster-auditors","role":"auditor"}]}]}
                        """#
                    let reply = try await Self.put(roster, body, ifMatch: "\"0\"", path: Self.issuersPath)
                    #expect(reply.status == .ok, "\(reply.body)")
                    #expect(reply.headers[.eTag] == "\"1\"")
                    #expect(reply.json["overridden"] == true)
                    #expect(reply.json["trusted_issuers"]?.arrayValue?.first?["directoryTenants"] == [], "defaults are shown")
                    #expect(try await roster.admin(.get, "/audit", bearer: token).status == .ok)
                    // Another section's PUT keeps the issuers; only their own PUT removes them.
                    #expect(try await Self.put(roster, "{}", ifMatch: "\"1\"").status == .ok)
                    #expect(try await roster.admin(.get, "/audit", bearer: token).status == .ok)
                    let removed = try await Self.put(roster, "{}", ifMatch: "\"2\"", path: Self.issuersPath)
                    #expect(removed.json == ["trusted_issuers": [], "version": 3, "overridden": false], "\(removed.body)")
                    try await roster.admin(.get, "/audit", bearer: token).expectAdminError(.unauthorized)
                }
            }
        }

        @Test("a changed retry schedule applies to the dispatcher's next attempts")
        func retrySchedule() async throws {
            try await Roster.run(configure: WebhookDeliveryTests.fast) { roster in
                // One attempt and no retry, where the process configuration allows three.
                #expect(try await Self.put(roster, #"{"webhook_retry_schedule":[0]}"#, ifMatch: "\"0\"").status == .ok)
                let (subscription, _) = try await WebhookDeliveryTests.subscribe(roster, url: "http://127.0.0.1:9/hook")
                _ = try await roster.createUser("a")
                let (state, deliveries) = try await WebhookDeliveryTests.subscription(roster, subscription.id) { $0.0?.pausedAt != nil }
                #expect(state?.pausedAt != nil)
                #expect(deliveries.map(\.outcome) == [.failed])
            }
        }

        @Test("config needs the scope on every tenant: a tenant-bound key holding it is 403")
        func globalScope() async throws {
            try await Roster.run { roster in
                let created = try await roster.admin(.post, "/admin-keys", body: #"{"name":"bound","scopes":["config"],"tenant":"default"}"#)
                let key = try #require(created.json["key"]?.stringValue, "\(created.body)")
                try await roster.admin(.get, "/config", key: key).expectAdminError(.forbidden)
            }
        }

        static func accessClaims(_ issuer: String, groups: [JSONValue]) -> [String: JSONValue] {
            let now = Date()
            return [
                "iss": .string(issuer), "aud": "api://roster", "sub": "00u-ada", "email": "ada@example.com", "groups": .array(groups),
                "iat": TestJWT.seconds(now), "nbf": TestJWT.seconds(now), "exp": TestJWT.seconds(now.addingTimeInterval(600)),
            ]
        }

        @Test("a config-only credential cannot add, replace or remove trusted issuers by either route, nor read them; it still changes the rest")
        func configCannotTouchIssuers() async throws {
            let legit = TestIssuerKey.es256()
            let attacker = TestIssuerKey.es256()
            let legitIssuer = "https://login.example.test/legit"
            let rogue = "https://rogue.example.test"
            try await JWKSServer.run(publishing: [legit]) { _, legitURL in
                try await JWKSServer.run(publishing: [attacker]) { _, rogueURL in
                    let legitJSON = #"{"issuer":"\#(legitIssuer)","audience":"api://roster","jwksURL":"\#(legitURL.absoluteString)","rolesClaim":"groups","roleMappings":[{"claimValue":"roster-auditors","role":"auditor"}]}"#
                    let rogueJSON = #"{"issuer":"\#(rogue)","audience":"api://roster","jwksURL":"\#(rogueURL.absoluteString)","rolesClaim":"groups","roleMappings":[{"claimValue":"pwn","role":"owner"}]}"#
                    try await Roster.run(configure: { configuration in
                        configuration.identity.allowInsecureLoopbackJWKS = true
                        configuration.identity.trustedIssuers = try! JSONDecoder().decode([TrustedIssuer].self, from: Data("[\(legitJSON)]".utf8))
                    }) { roster in
                        let created = try await roster.admin(.post, "/admin-keys", body: #"{"name":"settings","scopes":["config"]}"#)
                        let config = try #require(created.json["key"]?.stringValue, "\(created.body)")
                        let legitToken = legit.token(Self.accessClaims(legitIssuer, groups: ["roster-auditors"]))
                        let rogueToken = attacker.token(Self.accessClaims(rogue, groups: ["pwn"]))
                        let attempts: [(path: String, body: String)] = [
                            ("/api/v1/config", #"{"trusted_issuers":[\#(legitJSON),\#(rogueJSON)]}"#),
                            ("/api/v1/config", #"{"trusted_issuers":[\#(rogueJSON)]}"#),
                            ("/api/v1/config", #"{"trusted_issuers":[]}"#),
                            ("/api/v1/config", #"{"list_page_size":{"default":5,"max":5},"trusted_issuers":[\#(rogueJSON)]}"#),
                            (Self.issuersPath, #"{"trusted_issuers":[\#(legitJSON),\#(rogueJSON)]}"#),
                            (Self.issuersPath, #"{"trusted_issuers":[\#(rogueJSON)]}"#),
                            (Self.issuersPath, #"{"trusted_issuers":[]}"#),
                            (Self.issuersPath, "{}"),
                        ]
                        for (path, body) in attempts {
                            let reply = try await Self.put(roster, body, ifMatch: "*", path: path, key: config)
                            #expect(reply.status == .badRequest || reply.status == .forbidden, "\(path) \(body): \(reply.status) \(reply.body)")
                            #expect(reply.json["error"]?["message"]?.stringValue?.contains("'*'") == true, "\(reply.body)")
                            try await roster.admin(.get, "/tenants", bearer: rogueToken).expectAdminError(.unauthorized)
                            #expect(try await roster.admin(.get, "/audit", bearer: legitToken).status == .ok, "\(path) \(body)")
                        }
                        try await roster.admin(.get, "/config/trusted-issuers", key: config).expectAdminError(.forbidden)
                        #expect(try await roster.admin(.get, "/config").json["version"] == 0, "nothing was written")
                        #expect(try await Self.configUpdates(roster).isEmpty)

                        // What config is for still works, and leaves the issuers as they are.
                        let allowed = try await Self.put(
                            roster, #"{"rate_limits":{"scim":"100/60s","admin":"off"},"list_page_size":{"default":5,"max":50},"webhook_retry_schedule":[0,60]}"#,
                            ifMatch: "\"0\"", key: config)
                        #expect(allowed.status == .ok, "\(allowed.body)")
                        #expect(try await roster.admin(.get, "/config", key: config).json["list_page_size"] == ["default": 5, "max": 50])
                        #expect(try await roster.admin(.get, "/audit", bearer: legitToken).status == .ok)
                        try await roster.admin(.get, "/tenants", bearer: rogueToken).expectAdminError(.unauthorized)
                    }
                }
            }
        }
    }
}
