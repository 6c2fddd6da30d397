import Foundation
import HTTPTypes
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("Schemas as data: an operator's extension works without code")
    struct CustomSchemaTests {
        static let urn = "urn:example:params:scim:schemas:extension:acme:2.0:User"

        /// A folder holding one extension schema, as an operator would drop into ROSTER_SCHEMAS_DIR.
        static func schemaFolder() throws -> String {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("roster-schemas-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let document = #"""
                {"schemas":["urn:ietf:params:scim:schemas:core:2.0:Schema"],"id":"\#(urn)","name":"AcmeUser",
                 "description":"Acme's own user attributes.","attributes":[
                  {"name":"badgeNumber","type":"integer","multiValued":false,"required":false,"caseExact":false,
                   "mutability":"readWrite","returned":"default","uniqueness":"none"},
                  {"name":"costCenter","type":"string","multiValued":false,"required":false,"caseExact":false,
                   "mutability":"readWrite","returned":"default","uniqueness":"none"},
                  {"name":"clearance","type":"string","multiValued":false,"required":false,"caseExact":false,
                   "canonicalValues":["low","high"],"mutability":"readWrite","returned":"default","uniqueness":"none"},
                  {"name":"internalNote","type":"string","multiValued":false,"required":false,"caseExact":true,
                   "mutability":"readWrite","returned":"request","uniqueness":"none"}]}
                """#
            try document.write(to: folder.appendingPathComponent("AcmeUser.json"), atomically: true, encoding: .utf8)
            return folder.path
        }

        @Test("the extension is served, validated, filterable, sortable and patchable")
        func customExtension() async throws {
            let folder = try Self.schemaFolder()
            defer { try? FileManager.default.removeItem(atPath: folder) }
            try await Roster.run(schemasDirectory: folder) { roster in
                #expect(try await roster.send(.get, "/scim/v2/Schemas/\(Self.urn)").status == .ok)
                let type = try await roster.send(.get, "/scim/v2/ResourceTypes/User")
                #expect(type.json["schemaExtensions"]?.arrayValue?.contains { $0["schema"] == .string(Self.urn) } == true)

                let created = try await roster.scim(.post, "/Users", body: #"""
                    {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","\#(Self.urn)"],"userName":"ann",
                     "\#(Self.urn)":{"badgeNumber":42,"costCenter":"CC-1","clearance":"HIGH","internalNote":"secret-ish"}}
                    """#)
                #expect(created.status == .created, "\(created.body)")
                #expect(created.json[Self.urn]?["clearance"] == "high")
                #expect(created.json[Self.urn]?["internalNote"] == nil)
                let id = try #require(created.json["id"]?.stringValue)
                _ = try await roster.createUser("ben", extra: #","\#(Self.urn)":{"badgeNumber":7}"#)

                try await roster.scim(.post, "/Users", body: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","\#(Self.urn)":{"badgeNumber":"seven"}}"#)
                    .expectScimError(.badRequest, "invalidValue")
                try await roster.scim(.post, "/Users", body: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"y","\#(Self.urn)":{"clearance":"medium"}}"#)
                    .expectScimError(.badRequest, "invalidValue")

                #expect(try await roster.userNames(filter: "\(Self.urn):badgeNumber gt 10") == ["ann"])
                #expect(try await roster.userNames(filter: #"\#(Self.urn):costCenter eq "cc-1""#) == ["ann"])
                #expect(try await roster.userNames(filter: "userName pr", extra: "&sortBy=\(Self.urn):badgeNumber") == ["ben", "ann"])

                let patched = try await roster.patch("/Users/\(id)", #"[{"op":"replace","path":"\#(Self.urn):costCenter","value":"CC-2"}]"#)
                #expect(patched.json[Self.urn]?["costCenter"] == "CC-2")
                let asked = try await roster.scim(.get, "/Users/\(id)?attributes=\(Self.urn):internalNote")
                #expect(asked.json[Self.urn]?["internalNote"] == "secret-ish")
            }
        }
    }
}
