import Foundation
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
    }
}
