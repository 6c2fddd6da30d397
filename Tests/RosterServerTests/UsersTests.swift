import Foundation
import HTTPTypes
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("SCIM Users")
    struct UsersTests {
        let userSchema = "urn:ietf:params:scim:schemas:core:2.0:User"

        @Test("POST creates a user: 201, scim+json, Location, ETag and server-set meta")
        func create() async throws {
            try await Roster.run { roster in
                let reply = try await roster.scim(.post, "/Users", body: #"""
                    {"schemas":["\#(userSchema)"],"userName":"bjensen@example.com","externalId":"e-1",
                     "name":{"givenName":"Barbara","familyName":"Jensen"},"active":true,
                     "emails":[{"value":"bjensen@example.com","type":"work","primary":true}],
                     "id":"client-chosen","meta":{"version":"W/\"99\""}}
                    """#)
                #expect(reply.status == .created)
                #expect(reply.headers[.contentType] == "application/scim+json")
                let id = try #require(reply.json["id"]?.stringValue)
                #expect(UUID(uuidString: id) != nil)
                #expect(reply.headers[.location] == "\(Roster.scimBase)/Users/\(id)")
                #expect(reply.headers[.eTag] == #"W/"1""#)
                let meta = try #require(reply.json["meta"])
                #expect(meta["resourceType"] == "User")
                #expect(meta["location"] == .string("\(Roster.scimBase)/Users/\(id)"))
                #expect(meta["version"] == #"W/"1""#)
                #expect(meta["created"] == meta["lastModified"])
                #expect(reply.json["name"]?["givenName"] == "Barbara")
                #expect(reply.json["externalId"] == "e-1")
            }
        }

        @Test("application/json requests are accepted too")
        func plainJSON() async throws {
            try await Roster.run { roster in
                let reply = try await roster.scim(
                    .post, "/Users", body: #"{"schemas":["\#(userSchema)"],"userName":"a"}"#,
                    headers: [.contentType: "application/json"])
                #expect(reply.status == .created)
            }
        }

        @Test("GET by id returns the user; an unknown or malformed id is 404")
        func getByID() async throws {
            try await Roster.run { roster in
                let id = try await roster.createUser("alice")
                let reply = try await roster.scim(.get, "/Users/\(id)")
                #expect(reply.status == .ok)
                #expect(reply.json["userName"] == "alice")
                #expect(reply.headers[.eTag] == #"W/"1""#)
                try await roster.scim(.get, "/Users/\(UUID().uuidString)").expectScimError(.notFound)
                try await roster.scim(.get, "/Users/not-a-uuid").expectScimError(.notFound)
            }
        }

        @Test("userName is unique per tenant, case-insensitively: 409 uniqueness")
        func uniqueness() async throws {
            try await Roster.run { roster in
                _ = try await roster.createUser("Bob@Example.com")
                try await roster.scim(.post, "/Users", body: #"{"schemas":["\#(userSchema)"],"userName":"bob@example.COM"}"#)
                    .expectScimError(.conflict, "uniqueness")
            }
        }

        @Test("PUT replaces the user, bumps the version, ignores readOnly and keeps id")
        func replace() async throws {
            try await Roster.run { roster in
                let id = try await roster.createUser("carol", extra: #","displayName":"Carol","title":"Eng""#)
                let reply = try await roster.scim(.put, "/Users/\(id)", body: #"""
                    {"schemas":["\#(userSchema)"],"id":"\#(UUID().uuidString)","userName":"carol","active":false,
                     "groups":[{"value":"x"}],"meta":{"created":"2000-01-01T00:00:00Z"}}
                    """#)
                #expect(reply.status == .ok, "\(reply.body)")
                #expect(reply.json["id"] == .string(id))
                #expect(reply.json["active"] == false)
                #expect(reply.json["displayName"] == nil)
                #expect(reply.json["title"] == nil)
                #expect(reply.json["groups"] == nil)
                #expect(reply.json["meta"]?["version"] == #"W/"2""#)
                #expect(reply.json["meta"]?["created"] != "2000-01-01T00:00:00Z")
            }
        }

        @Test("PUT to a userName another user has is 409 and changes nothing")
        func replaceConflict() async throws {
            try await Roster.run { roster in
                _ = try await roster.createUser("dave")
                let id = try await roster.createUser("erin")
                try await roster.scim(.put, "/Users/\(id)", body: #"{"schemas":["\#(userSchema)"],"userName":"DAVE"}"#)
                    .expectScimError(.conflict, "uniqueness")
                #expect(try await roster.scim(.get, "/Users/\(id)").json["userName"] == "erin")
            }
        }

        @Test("PUT of an unknown id is 404")
        func replaceUnknown() async throws {
            try await Roster.run { roster in
                try await roster.scim(.put, "/Users/\(UUID().uuidString)", body: #"{"schemas":["\#(userSchema)"],"userName":"x"}"#)
                    .expectScimError(.notFound)
            }
        }

        @Test("DELETE answers 204, then the user is gone")
        func delete() async throws {
            try await Roster.run { roster in
                let id = try await roster.createUser("frank")
                #expect(try await roster.scim(.delete, "/Users/\(id)").status == .noContent)
                try await roster.scim(.get, "/Users/\(id)").expectScimError(.notFound)
                try await roster.scim(.delete, "/Users/\(id)").expectScimError(.notFound)
            }
        }

        @Test("attributes and excludedAttributes shape GET, list and POST responses")
        func projections() async throws {
            try await Roster.run { roster in
                let id = try await roster.createUser("hal", extra: #","displayName":"Hal","title":"Eng""#)
                let one = try await roster.scim(.get, "/Users/\(id)?attributes=title")
                #expect(one.json["title"] == "Eng")
                #expect(one.json["displayName"] == nil)
                #expect(one.json["id"] == .string(id))
                let list = try await roster.scim(.get, "/Users?excludedAttributes=title")
                #expect(list.json["Resources"]?[0]?["title"] == nil)
                #expect(list.json["Resources"]?[0]?["displayName"] == "Hal")
                let created = try await roster.scim(
                    .post, "/Users?attributes=userName", body: #"{"schemas":["\#(userSchema)"],"userName":"ivy","title":"x"}"#)
                #expect(created.status == .created)
                #expect(created.json["title"] == nil)
                #expect(created.json["userName"] == "ivy")
            }
        }

        @Test("a PATCH that changes nothing keeps the version")
        func emptyPatch() async throws {
            try await Roster.run { roster in
                let id = try await roster.createUser("gina")
                let reply = try await roster.patch("/Users/\(id)", #"[{"op":"replace","path":"userName","value":"gina"}]"#)
                #expect(reply.status == .ok)
                #expect(reply.headers[.eTag] == #"W/"1""#)
            }
        }
    }
}
