import Foundation
import HTTPTypes
import RosterTestSupport
import RosterServer
import SCIM
import Testing

extension ServerSuite {
    @Suite("Bad writes are 400 with nothing written: indexed lengths, wrong PATCH shapes")
    struct BadInputWriteTests {
        static let user = "urn:ietf:params:scim:schemas:core:2.0:User"
        static let group = "urn:ietf:params:scim:schemas:core:2.0:Group"
        /// Random text no index entry can hold even compressed (PostgreSQL's btree limit is about 2 700 bytes).
        static let long = (0..<100).map { _ in UUID().uuidString }.joined()
        static let megabyte = String((0..<28_000).map { _ in UUID().uuidString }.joined().prefix(1_000_000))

        @Test("POST and PUT of an over-long indexed attribute are 400 invalidValue naming it and its maximum, not 503", arguments: [
            ("/Users", #""schemas":["\#(user)"],"userName":"\#(long)""#, "userName"),
            ("/Users", #""schemas":["\#(user)"],"userName":"\#(megabyte)""#, "userName"),
            ("/Users", #""schemas":["\#(user)"],"userName":"u","displayName":"\#(long)""#, "displayName"),
            ("/Users", #""schemas":["\#(user)"],"userName":"u","externalId":"\#(long)""#, "externalId"),
            ("/Users", #""schemas":["\#(user)"],"userName":"u","emails":[{"value":"\#(long)"}]"#, "emails.value"),
            ("/Groups", #""schemas":["\#(group)"],"displayName":"\#(long)""#, "displayName"),
            ("/Groups", #""schemas":["\#(group)"],"displayName":"g","externalId":"\#(megabyte)""#, "externalId"),
        ])
        func overLongWrites(path: String, fields: String, attribute: String) async throws {
            try await Roster.run { roster in
                let created = try await roster.scim(.post, path, body: "{\(fields)}")
                created.expectScimError(.badRequest, "invalidValue")
                #expect(created.json["detail"]?.stringValue?.contains("'\(attribute)'") == true, "\(created.body.prefix(300))")
                #expect(try await roster.scim(.get, path + "?count=0").json["totalResults"] == 0)

                let existing = path == "/Users" ? try await roster.createUser("kept") : try await roster.createGroup("kept")
                let replaced = try await roster.scim(.put, "\(path)/\(existing)", body: "{\(fields)}")
                replaced.expectScimError(.badRequest, "invalidValue")
                #expect(try await roster.scim(.get, "\(path)/\(existing)").json["meta"]?["version"] == #"W/"1""#)
            }
        }

        @Test("PATCH and Bulk are held to the same limits; the user is left as it was")
        func overLongPatchAndBulk() async throws {
            try await Roster.run { roster in
                let id = try await roster.createUser("bjensen")
                try await roster.patch("/Users/\(id)", #"[{"op":"replace","path":"displayName","value":"\#(Self.long)"}]"#)
                    .expectScimError(.badRequest, "invalidValue")
                try await roster.patch("/Users/\(id)", #"[{"op":"add","value":{"userName":"\#(Self.megabyte)"}}]"#)
                    .expectScimError(.badRequest, "invalidValue")
                let user = try await roster.scim(.get, "/Users/\(id)").json
                #expect(user["userName"] == "bjensen" && user["displayName"] == nil)

                let bulk = try await roster.scim(.post, "/Bulk", body: #"""
                    {"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[
                     {"method":"POST","path":"/Users","bulkId":"a","data":{"schemas":["\#(Self.user)"],"userName":"\#(Self.long)"}},
                     {"method":"PATCH","path":"/Users/\#(id)","data":{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                       "Operations":[{"op":"replace","path":"externalId","value":"\#(Self.long)"}]}},
                     {"method":"POST","path":"/Users","bulkId":"c","data":{"schemas":["\#(Self.user)"],"userName":"carol"}}]}
                    """#)
                #expect(bulk.status == .ok)
                let results = bulk.json["Operations"]?.arrayValue ?? []
                #expect(results.map { $0["status"] } == ["400", "400", "201"])
                #expect(results.prefix(2).allSatisfy { $0["response"]?["scimType"] == "invalidValue" })
                #expect(try await roster.scim(.get, "/Users?count=0").json["totalResults"] == 2)
            }
        }

        @Test("a filter comparing an indexed attribute with an over-long value finds nothing, never a 5xx")
        func overLongFilter() async throws {
            try await Roster.run { roster in
                _ = try await roster.createUser("bjensen")
                for attribute in ["userName", "displayName", "externalId", "emails.value", "emails"] {
                    #expect(try await roster.userNames(filter: #"\#(attribute) eq "\#(Self.long)""#).isEmpty)
                }
                let groups = try await roster.scim(.get, "/Groups?filter=" + #"displayName eq "\#(Self.long)""#.urlQueryEncoded)
                #expect(groups.status == .ok && groups.json["totalResults"] == 0)
            }
        }

        @Test("PATCH with a string for 'name' or 'emails' is 400 invalidValue and changes nothing", arguments: [
            #"[{"op":"replace","path":"name","value":"Barbara Jensen"}]"#,
            #"[{"op":"replace","value":{"name":"Barbara Jensen"}}]"#,
            #"[{"op":"add","path":"emails","value":"x@example.com"}]"#,
            #"[{"op":"replace","path":"emails","value":["x@example.com"]}]"#,
        ])
        func wrongShapes(operations: String) async throws {
            try await Roster.run { roster in
                let id = try await roster.createUser("bjensen", extra: #","name":{"givenName":"Barbara"},"emails":[{"value":"b@example.com"}]"#)
                try await roster.patch("/Users/\(id)", operations).expectScimError(.badRequest, "invalidValue")
                let user = try await roster.scim(.get, "/Users/\(id)").json
                #expect(user["name"] == ["givenName": "Barbara"])
                #expect(user["emails"] == [["value": "b@example.com"]])
                #expect(user["meta"]?["version"] == #"W/"1""#)
            }
        }

        @Test("a PatchOp with an empty 'Operations' array is 400 invalidSyntax")
        func emptyOperations() async throws {
            try await Roster.run { roster in
                let id = try await roster.createUser("bjensen")
                try await roster.patch("/Users/\(id)", "[]").expectScimError(.badRequest, "invalidSyntax")
                #expect(try await roster.scim(.get, "/Users/\(id)").json["meta"]?["version"] == #"W/"1""#)
            }
        }
    }
}
