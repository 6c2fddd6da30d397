import Foundation
import HTTPTypes
import RosterTestSupport
import RosterServer
import SCIM
import Testing

extension ServerSuite {
    @Suite("Tenant isolation")
    struct IsolationTests {
        @Test("tenant A's token sees 404 for tenant B's resources on every verb")
        func isolation() async throws {
            try await Roster.run { roster in
                let user = try await roster.createUser("b-user")
                let group = try await roster.createGroup("b-group", members: [user])
                let other = try await roster.otherTenant("acme")
                let userBody = #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x"}"#
                let groupBody = #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"x"}"#
                for (path, body) in [("/Users/\(user)", userBody), ("/Groups/\(group)", groupBody)] {
                    try await roster.scim(.get, path, token: other.token).expectScimError(.notFound)
                    try await roster.scim(.put, path, token: other.token, body: body).expectScimError(.notFound)
                    try await roster.scim(.delete, path, token: other.token).expectScimError(.notFound)
                }
                #expect(try await roster.scim(.get, "/Users", token: other.token).json["totalResults"] == 0)
                #expect(try await roster.scim(.get, "/Groups", token: other.token).json["totalResults"] == 0)
                // Another tenant's user cannot become a member either.
                try await roster.scim(.post, "/Groups", token: other.token, body: #"""
                    {"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"g","members":[{"value":"\#(user)"}]}
                    """#).expectScimError(.badRequest, "invalidValue")
                // And the same userName may exist in both tenants.
                #expect(try await roster.scim(.post, "/Users", token: other.token, body: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"b-user"}"#).status == .created)
                #expect(try await roster.scim(.get, "/Users/\(user)").status == .ok)
            }
        }
    }

    @Suite("Bad input gets a SCIM error, never a 500")
    struct BadInputTests {
        let user = "urn:ietf:params:scim:schemas:core:2.0:User"

        @Test("malformed JSON is 400 invalidSyntax", arguments: ["{", "[]", "\"x\"", "", "{\"schemas\":"])
        func malformed(body: String) async throws {
            try await Roster.run { roster in
                try await roster.scim(.post, "/Users", body: body).expectScimError(.badRequest, "invalidSyntax")
            }
        }

        @Test("missing userName or wrong types are 400 invalidValue", arguments: [
            #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}"#,
            #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":7}"#,
            #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","active":[]}"#,
            #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","emails":"a@b"}"#,
            #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","name":{"givenName":1}}"#,
        ])
        func invalidValues(body: String) async throws {
            try await Roster.run { roster in
                try await roster.scim(.post, "/Users", body: body).expectScimError(.badRequest, "invalidValue")
            }
        }

        @Test("an unknown schemas URN is 400")
        func unknownSchema() async throws {
            try await Roster.run { roster in
                try await roster.scim(.post, "/Users", body: #"{"schemas":["urn:example:nope"],"userName":"a"}"#)
                    .expectScimError(.badRequest, "invalidSyntax")
            }
        }

        @Test("a body over the limit is 413")
        func tooLarge() async throws {
            try await Roster.run { roster in
                let padding = String(repeating: "a", count: ScimLimits.maxRequestBytes + 10)
                try await roster.scim(.post, "/Users", body: #"{"schemas":["\#(user)"],"userName":"\#(padding)"}"#)
                    .expectScimError(.contentTooLarge)
            }
        }

        @Test("a failed write leaves nothing behind")
        func nothingPartial() async throws {
            try await Roster.run { roster in
                let a = try await roster.createUser("a")
                try await roster.scim(.post, "/Groups", body: #"""
                    {"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G",
                     "members":[{"value":"\#(a)"},{"value":"\#(UUID().uuidString)"}]}
                    """#).expectScimError(.badRequest, "invalidValue")
                #expect(try await roster.scim(.get, "/Groups").json["totalResults"] == 0)
            }
        }
    }
}
