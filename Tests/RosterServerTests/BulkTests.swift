import Foundation
import HTTPTypes
import RosterServer
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("SCIM /Bulk (RFC 7644 §3.7)")
    struct BulkTests {
        static let user = "urn:ietf:params:scim:schemas:core:2.0:User"
        static let group = "urn:ietf:params:scim:schemas:core:2.0:Group"

        func bulk(_ roster: Roster, _ operations: String, failOnErrors: Int? = nil) async throws -> Reply {
            let fail = failOnErrors.map { #""failOnErrors":\#($0),"# } ?? ""
            return try await roster.scim(.post, "/Bulk", body: #"""
                {"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],\#(fail)"Operations":\#(operations)}
                """#)
        }

        func results(_ reply: Reply) -> [JSONValue] {
            #expect(reply.status == .ok, "\(reply.body)")
            #expect(reply.json["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:BulkResponse"])
            return reply.json["Operations"]?.arrayValue ?? []
        }

        @Test("one request creates a user and a group holding it (bulkId in a member value), then patches the group by bulkId path")
        func createAndReference() async throws {
            try await Roster.run { roster in
                let reply = try await bulk(roster, #"""
                    [{"method":"POST","path":"/Groups","bulkId":"g","data":{"schemas":["\#(Self.group)"],"displayName":"Team",
                       "members":[{"value":"bulkId:alice","type":"User"}]}},
                     {"method":"POST","path":"/Users","bulkId":"alice","data":{"schemas":["\#(Self.user)"],"userName":"alice"}},
                     {"method":"POST","path":"/Users","bulkId":"bob","data":{"schemas":["\#(Self.user)"],"userName":"bob"}},
                     {"method":"PATCH","path":"/Groups/bulkId:g","data":{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                       "Operations":[{"op":"add","path":"members","value":[{"value":"bulkId:bob"}]}]}}]
                    """#)
                let operations = results(reply)
                #expect(operations.map { $0["status"] } == ["201", "201", "201", "200"])
                #expect(operations.map { $0["bulkId"] } == ["g", "alice", "bob", nil])
                let groupLocation = try #require(operations[0]["location"]?.stringValue)
                #expect(groupLocation.hasPrefix(Roster.scimBase + "/Groups/"))
                #expect(operations[3]["location"]?.stringValue == groupLocation)
                #expect(operations[0]["version"]?.stringValue?.hasPrefix("W/") == true)
                #expect(operations[3]["version"] != operations[0]["version"], "the PATCH made a new version")
                let alice = try #require(operations[1]["location"]?.stringValue?.split(separator: "/").last)
                let bob = try #require(operations[2]["location"]?.stringValue?.split(separator: "/").last)
                let group = try await roster.scim(.get, "/Groups/" + groupLocation.split(separator: "/").last!)
                let members = Set(group.json["members"]?.arrayValue?.compactMap { $0["value"]?.stringValue } ?? [])
                #expect(members == [String(alice), String(bob)])
                #expect(group.headers[.eTag] == operations[3]["version"]?.stringValue)
            }
        }

        @Test("PUT, PATCH with a member filter path, and DELETE by id; version acts as If-Match (412 when stale)")
        func writesByID() async throws {
            try await Roster.run { roster in
                let alice = try await roster.createUser("alice")
                let carol = try await roster.createUser("carol")
                let team = try await roster.createGroup("Team", members: [alice, carol])
                let current = try await roster.scim(.get, "/Users/\(alice)").headers[.eTag] ?? ""
                let reply = try await bulk(roster, #"""
                    [{"method":"PUT","path":"/Users/\#(alice)","version":"W/\"999\"","data":{"schemas":["\#(Self.user)"],"userName":"stale"}},
                     {"method":"PUT","path":"/Users/\#(alice)","version":\#(String(decoding: JSONValue.string(current).encoded(), as: UTF8.self)),
                      "data":{"schemas":["\#(Self.user)"],"userName":"alice2","displayName":"Alice"}},
                     {"method":"PATCH","path":"/Groups/\#(team)","data":{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                      "Operations":[{"op":"remove","path":"members[value eq \"\#(carol)\"]"}]}},
                     {"method":"DELETE","path":"/Users/\#(carol)"},
                     {"method":"DELETE","path":"/Users/\#(carol)"}]
                    """#)
                let operations = results(reply)
                #expect(operations.map { $0["status"] } == ["412", "200", "200", "204", "404"])
                #expect(operations[0]["response"]?["status"] == "412")
                #expect(operations.allSatisfy { $0["location"]?.stringValue?.hasPrefix(Roster.scimBase) == true })
                #expect(try await roster.scim(.get, "/Users/\(alice)").json["userName"] == "alice2")
                let members = try await roster.scim(.get, "/Groups/\(team)").json["members"]?.arrayValue ?? []
                #expect(members.map { $0["value"] } == [.string(alice)])
            }
        }

        @Test("a failed operation writes nothing and the others still run; failOnErrors stops after that many errors")
        func failures() async throws {
            try await Roster.run { roster in
                _ = try await roster.createUser("taken")
                let operations = #"""
                    [{"method":"POST","path":"/Users","bulkId":"a","data":{"schemas":["\#(Self.user)"],"userName":"taken"}},
                     {"method":"POST","path":"/Users","bulkId":"b","data":{"schemas":["\#(Self.user)"]}},
                     {"method":"POST","path":"/Users","bulkId":"c","data":{"schemas":["\#(Self.user)"],"userName":"carol"}},
                     {"method":"POST","path":"/Nowhere","bulkId":"d","data":{}},
                     {"method":"POST","path":"/Users/\#(UUID())","bulkId":"e","data":{}}]
                    """#
                let stopped = results(try await bulk(roster, operations, failOnErrors: 2))
                #expect(stopped.map { $0["status"] } == ["409", "400"])
                #expect(stopped[0]["response"]?["scimType"] == "uniqueness")
                #expect(stopped[0]["location"] == nil, "a failed POST has no location")
                #expect(try await roster.userNames(filter: #"userName eq "carol""#).isEmpty)

                let all = results(try await bulk(roster, operations))
                #expect(all.map { $0["status"] } == ["409", "400", "201", "404", "405"])
                #expect(all[3]["location"] == nil && all[4]["location"] == nil, "no failed POST has a location")
                #expect(try await roster.userNames(filter: #"userName eq "carol""#) == ["carol"])
                #expect(try await roster.scim(.get, "/Users?count=0").json["totalResults"] == 2)
            }
        }

        @Test("circular references are 409 and create nothing; an unknown bulkId is 400 invalidValue")
        func unresolvable() async throws {
            try await Roster.run { roster in
                let operations = results(try await bulk(roster, #"""
                    [{"method":"POST","path":"/Groups","bulkId":"a","data":{"schemas":["\#(Self.group)"],"displayName":"A","members":[{"value":"bulkId:b"}]}},
                     {"method":"POST","path":"/Groups","bulkId":"b","data":{"schemas":["\#(Self.group)"],"displayName":"B","members":[{"value":"bulkId:a"}]}},
                     {"method":"PATCH","path":"/Groups/bulkId:zzz","data":{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}}]
                    """#))
                #expect(operations.map { $0["status"] } == ["409", "409", "400"])
                #expect(operations[2]["response"]?["scimType"] == "invalidValue")
                #expect(try await roster.scim(.get, "/Groups?count=0").json["totalResults"] == 0)
            }
        }

        @Test("limits: more than maxOperations is 413 tooMany, a body over maxPayloadSize 413 tooLarge; both advertised")
        func limits() async throws {
            try await Roster.run { roster in
                let config = try await roster.scim(.get, "/ServiceProviderConfig").json["bulk"]
                #expect(config == ["supported": true, "maxOperations": .integer(BulkRequest.maxOperations), "maxPayloadSize": .integer(BulkRequest.maxPayloadSize)])
                let one = #"{"method":"DELETE","path":"/Users/\#(UUID())"}"#
                let many = "[" + Array(repeating: one, count: BulkRequest.maxOperations + 1).joined(separator: ",") + "]"
                try await bulk(roster, many).expectScimError(.contentTooLarge, "tooMany")
                let padding = String(repeating: "x", count: BulkRequest.maxPayloadSize)
                try await bulk(roster, #"[{"method":"POST","path":"/Users","bulkId":"a","data":{"userName":"\#(padding)"}}]"#)
                    .expectScimError(.contentTooLarge, "tooLarge")
            }
        }

        @Test("bad input is a SCIM error for the whole request; no token is 401; other methods are 405")
        func badInput() async throws {
            try await Roster.run { roster in
                try await roster.scim(.post, "/Bulk", body: "{").expectScimError(.badRequest, "invalidSyntax")
                try await roster.scim(.post, "/Bulk", body: #"{"Operations":[]}"#).expectScimError(.badRequest, "invalidSyntax")
                try await bulk(roster, #"[{"method":"PUT","path":"/Users/1"}]"#).expectScimError(.badRequest, "invalidSyntax")
                try await roster.send(.post, "/scim/v2/Bulk", body: "{}").expectScimError(.unauthorized)
                try await roster.scim(.get, "/Bulk").expectScimError(.methodNotAllowed)
            }
        }

        @Test("operations act in the token's tenant only")
        func tenantIsolation() async throws {
            try await Roster.run { roster in
                let alice = try await roster.createUser("alice")
                let other = try await roster.otherTenant("other")
                let operations = try await roster.scim(.post, "/Bulk", token: other.token, body: #"""
                    {"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                     "Operations":[{"method":"DELETE","path":"/Users/\#(alice)"}]}
                    """#).json["Operations"]?.arrayValue ?? []
                #expect(operations.map { $0["status"] } == ["404"])
                #expect(try await roster.scim(.get, "/Users/\(alice)").status == .ok)
            }
        }

        // MARK: Runs of user POSTs, written together

        /// A user POST operation.
        static func userPost(_ bulkID: String, _ userName: String?, extra: String = "") -> String {
            let name = userName.map { #","userName":"\#($0)""# } ?? ""
            return #"{"method":"POST","path":"/Users","bulkId":"\#(bulkID)","data":{"schemas":["\#(user)"]\#(name)\#(extra)}}"#
        }

        static func list(_ operations: [String]) -> String { "[" + operations.joined(separator: ",\n") + "]" }

        /// The default tenant's events after `after`, through the admin API.
        static func events(_ roster: Roster, after: Int = 0) async throws -> [JSONValue] {
            let reply = try await roster.admin(.get, "/events?after=\(after)&limit=1000")
            #expect(reply.status == .ok, "\(reply.body)")
            return reply.json["data"]?.arrayValue ?? []
        }

        @Test("a run of N user POSTs: N users, N results with ids, locations and versions, N user.created events in op order sharing one transaction")
        func runOfCreates() async throws {
            try await Roster.run { roster in
                let count = 60
                let reply = try await bulk(roster, Self.list((0..<count).map {
                    Self.userPost("u\($0)", "user-\($0)", extra: #","displayName":"User \#($0)","emails":[{"value":"U\#($0)@Example.com"}]"#)
                }))
                let operations = results(reply)
                #expect(operations.count == count)
                #expect(operations.allSatisfy { $0["status"] == "201" && $0["method"] == "POST" && $0["version"] == #"W/"1""# })
                #expect(operations.map { $0["bulkId"] } == (0..<count).map { .string("u\($0)") })
                let ids = operations.compactMap { $0["location"]?.stringValue }.map { location in
                    #expect(location.hasPrefix(Roster.scimBase + "/Users/"))
                    return String(location.split(separator: "/").last ?? "")
                }
                #expect(Set(ids).count == count)
                #expect(try await roster.scim(.get, "/Users?count=0").json["totalResults"] == .integer(count))

                let events = try await Self.events(roster)
                #expect(events.count == count)
                #expect(events.allSatisfy { $0["type"] == "user.created" && $0["resource_type"] == "User" && $0["resource_version"] == 1 })
                #expect(events.compactMap { $0["resource_id"]?.stringValue } == ids, "the events follow the operations' order")
                #expect(events.map { $0["data"]?["userName"] } == (0..<count).map { .string("user-\($0)") })
                #expect(Set(events.compactMap { $0["transaction_id"]?.stringValue }).count == 1, "one request, one transaction id")

                // Each user reads back as a POST of it alone would have stored it; one transaction stamped them all.
                let first = try await roster.scim(.get, "/Users/\(ids[7])").json
                #expect(first["userName"] == "user-7" && first["displayName"] == "User 7")
                #expect(try await roster.userNames(filter: #"emails.value eq "u7@example.com""#) == ["user-7"])
                #expect(events[7]["data"]?["emails"] == first["emails"])
                var created: Set<String> = []
                for id in [ids[0], ids[30], ids[count - 1]] {
                    created.insert(try await roster.scim(.get, "/Users/\(id)").json["meta"]?["created"]?.stringValue ?? "")
                }
                #expect(created.count == 1, "written together: one transaction's now()")
            }
        }

        @Test(
            "409 uniqueness for exactly the conflicting POSTs of a run, with a single POST's error",
            arguments: [
                // (userNames in the run, nil: no userName; statuses)
                ([Optional("alice"), "alice"], ["201", "409"]),
                (["alice", "ALICE"], ["201", "409"]),
                (["Alice", "bob", "aLiCe", "BOB", "carol"], ["201", "201", "409", "409", "201"]),
                (["taken", "alice"], ["409", "201"]),
                (["alice", "TAKEN", "bob"], ["201", "409", "201"]),
                (["alice", nil, "alice", "bob"], ["201", "400", "409", "201"]),
                ([nil, "taken", nil], ["400", "409", "400"]),
            ] as [([String?], [String])])
        func runConflicts(userNames: [String?], statuses: [String]) async throws {
            try await Roster.run { roster in
                _ = try await roster.createUser("taken")
                let single = try await roster.scim(.post, "/Users", body: #"{"schemas":["\#(Self.user)"],"userName":"Taken"}"#)
                single.expectScimError(.conflict, "uniqueness")
                let before = try await Self.events(roster).count
                let operations = results(try await bulk(roster, Self.list(userNames.enumerated().map { Self.userPost("u\($0)", $1) })))
                #expect(operations.map { $0["status"] } == statuses.map { .string($0) })
                for (operation, status) in zip(operations, statuses) where status == "409" {
                    #expect(operation["response"] == single.json, "the same error a POST of it alone gets")
                    #expect(operation["location"] == nil)
                }
                for (operation, status) in zip(operations, statuses) where status == "400" {
                    #expect(operation["response"]?["scimType"] == "invalidValue" || operation["response"]?["scimType"] == "invalidSyntax")
                }
                let created = zip(userNames, statuses).filter { $1 == "201" }.compactMap(\.0)
                let events = try await Self.events(roster, after: before)
                #expect(events.map { $0["data"]?["userName"]?.stringValue } == created.map { Optional($0) })
                #expect(try await roster.scim(.get, "/Users?count=0").json["totalResults"] == .integer(1 + created.count))
            }
        }

        @Test("externalId is not unique: two POSTs of a run with one externalId both create")
        func runExternalID() async throws {
            try await Roster.run { roster in
                _ = try await roster.createUser("existing", extra: #","externalId":"x-1""#)
                let operations = results(try await bulk(roster, Self.list([
                    Self.userPost("a", "a", extra: #","externalId":"x-1""#), Self.userPost("b", "b", extra: #","externalId":"x-1""#),
                ])))
                #expect(operations.map { $0["status"] } == ["201", "201"])
                #expect(try await roster.userNames(filter: #"externalId eq "x-1""#, extra: "&sortBy=userName") == ["a", "b", "existing"])
            }
        }

        @Test(
            "failOnErrors inside a run stops at the operation that spends it; nothing after it is written",
            arguments: [
                // (failOnErrors, userNames, statuses of the operations that ran)
                (1, [Optional("taken"), "a", "b"], ["409"]),
                (1, ["a", "b", "A", "c"], ["201", "201", "409"]),
                (2, ["a", "taken", "b", "A", "c"], ["201", "409", "201", "409"]),
                (2, ["a", nil, "b", "taken", "c"], ["201", "400", "201", "409"]),
                (2, ["a", nil, nil, "b"], ["201", "400", "400"]),
                (3, ["a", "A", "b", "B"], ["201", "409", "201", "409"]),
            ] as [(Int, [String?], [String])])
        func runFailOnErrors(failOnErrors: Int, userNames: [String?], statuses: [String]) async throws {
            try await Roster.run { roster in
                _ = try await roster.createUser("taken")
                let operations = results(try await bulk(
                    roster, Self.list(userNames.enumerated().map { Self.userPost("u\($0)", $1) }), failOnErrors: failOnErrors))
                #expect(operations.map { $0["status"] } == statuses.map { .string($0) })
                let created = zip(userNames, statuses).filter { $1 == "201" }.compactMap(\.0)
                let events = try await Self.events(roster)
                #expect(events.dropFirst().map { $0["data"]?["userName"]?.stringValue } == created.map { Optional($0) })
                let names = try await roster.userNames(filter: #"userName pr"#, extra: "&sortBy=userName")
                #expect(names == (created + ["taken"]).sorted())
            }
        }

        @Test("an earlier error counts toward failOnErrors in a later run")
        func failOnErrorsAcrossRuns() async throws {
            try await Roster.run { roster in
                let operations = results(try await bulk(roster, Self.list([
                    #"{"method":"DELETE","path":"/Users/\#(UUID())"}"#,
                    Self.userPost("a", "a"), Self.userPost("b", "A"), Self.userPost("c", "c"),
                ]), failOnErrors: 2))
                #expect(operations.map { $0["status"] } == ["404", "201", "409"])
                #expect(try await roster.userNames(filter: #"userName pr"#) == ["a"])
            }
        }

        @Test("bulkId references to users created in a run resolve, forward and backward; other writes split runs and keep the order")
        func runReferencesAndOrder() async throws {
            try await Roster.run { roster in
                let existing = try await roster.createGroup("Existing")
                let before = try await Self.events(roster).count
                let operations = results(try await bulk(roster, #"""
                    [{"method":"POST","path":"/Groups","bulkId":"early","data":{"schemas":["\#(Self.group)"],"displayName":"Early",
                       "members":[{"value":"bulkId:u3"}]}},
                     \#(Self.userPost("u1", "u1")), \#(Self.userPost("u2", "u2")),
                     {"method":"PATCH","path":"/Groups/\#(existing)","data":{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                       "Operations":[{"op":"add","path":"members","value":[{"value":"bulkId:u1"},{"value":"bulkId:u2"}]}]}},
                     \#(Self.userPost("u3", "u3")), \#(Self.userPost("u4", "u4")), \#(Self.userPost("u5", "u5")),
                     {"method":"POST","path":"/Groups","bulkId":"late","data":{"schemas":["\#(Self.group)"],"displayName":"Late",
                       "members":[{"value":"bulkId:u4"},{"value":"bulkId:u5"}]}},
                     \#(Self.userPost("u6", "u6"))]
                    """#))
                #expect(operations.map { $0["status"] } == ["201", "201", "201", "200", "201", "201", "201", "201", "201"])
                func id(_ index: Int) -> String { String(operations[index]["location"]?.stringValue?.split(separator: "/").last ?? "") }
                func members(_ group: String) async throws -> Set<String> {
                    Set(try await roster.scim(.get, "/Groups/\(group)").json["members"]?.arrayValue?.compactMap { $0["value"]?.stringValue } ?? [])
                }
                #expect(try await members(id(0)) == [id(4)])
                #expect(try await members(existing) == [id(1), id(2)])
                #expect(try await members(id(7)) == [id(5), id(6)])
                // u3 ran first (the early group needs it), then the rest in request order.
                let events = try await Self.events(roster, after: before)
                let shown = events.map { event -> String in
                    let type = event["type"]?.stringValue ?? ""
                    if type == "user.created" { return event["data"]?["userName"]?.stringValue ?? "?" }
                    return type + (event["data"]?["displayName"]?.stringValue.map { " " + $0 } ?? "")
                }
                #expect(shown == [
                    "u3", "group.created Early", "group.members.added", "u1", "u2", "group.members.added", "u4", "u5",
                    "group.created Late", "group.members.added", "u6",
                ])
            }
        }

        @Test("a run creates in the token's tenant only: another tenant's userName does not collide")
        func runTenantIsolation() async throws {
            try await Roster.run { roster in
                _ = try await roster.createUser("alice")
                let other = try await roster.otherTenant("other")
                let reply = try await roster.scim(.post, "/Bulk", token: other.token, body: #"""
                    {"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                     "Operations":\#(Self.list([Self.userPost("a", "alice"), Self.userPost("b", "bob"), Self.userPost("c", "ALICE")]))}
                    """#)
                #expect(results(reply).map { $0["status"] } == ["201", "201", "409"])
                let listed = try await roster.scim(.get, "/Users?count=10", token: other.token).json["Resources"]?.arrayValue ?? []
                #expect(Set(listed.compactMap { $0["userName"]?.stringValue }) == ["alice", "bob"])
                #expect(try await roster.userNames(filter: #"userName pr"#) == ["alice"])
                #expect(try await Self.events(roster).count == 1, "the default tenant's feed has only its own user")
            }
        }
    }
}
