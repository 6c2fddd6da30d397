import Foundation
import HTTPTypes
import RosterServer
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("PATCH over HTTP, as Entra ID and Okta send it")
    struct PatchTests {
        static let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

        @Test("Entra ID: capitalised ops, string booleans, filtered email add, manager by bare id")
        func entraUser() async throws {
            try await Roster.run { roster in
                let id = try await roster.createUser("entra@example.com")
                let reply = try await roster.patch("/Users/\(id)", #"""
                    [{"op":"Replace","path":"active","value":"False"},
                     {"op":"Add","path":"emails[type eq \"work\"].value","value":"entra@work.example"},
                     {"op":"Add","path":"addresses[type eq \"work\"].streetAddress","value":"1 Main St"},
                     {"op":"Replace","path":"\#(Self.enterprise):manager","value":"mgr-1"}]
                    """#)
                #expect(reply.status == .ok, "\(reply.body)")
                #expect(reply.json["active"] == false)
                #expect(reply.json["emails"] == [["type": "work", "value": "entra@work.example"]])
                #expect(reply.json["addresses"] == [["type": "work", "streetAddress": "1 Main St"]])
                #expect(reply.json[Self.enterprise]?["manager"] == ["value": "mgr-1"])
                #expect(reply.headers[.eTag] == #"W/"2""#)
                // The email written by PATCH is filterable through the email index.
                #expect(try await roster.userNames(filter: #"emails.value eq "ENTRA@work.example""#) == ["entra@example.com"])
            }
        }

        @Test("Entra ID (aadOptscim062020): path-less replace with dotted and URN-qualified keys")
        func entraFlagUser() async throws {
            try await Roster.run { roster in
                let id = try await roster.createUser("flag@example.com")
                let reply = try await roster.patch("/Users/\(id)", #"""
                    [{"op":"replace","value":{"name.givenName":"A","active":false,"\#(Self.enterprise):employeeNumber":"7"}}]
                    """#)
                #expect(reply.status == .ok, "\(reply.body)")
                #expect(reply.json["name"]?["givenName"] == "A")
                #expect(reply.json[Self.enterprise]?["employeeNumber"] == "7")
            }
        }

        @Test("Okta: path-less replace {active: false} deactivates")
        func oktaDeactivate() async throws {
            try await Roster.run { roster in
                let id = try await roster.createUser("okta@example.com")
                let reply = try await roster.patch("/Users/\(id)", #"[{"op":"replace","value":{"active":false}}]"#)
                #expect(reply.json["active"] == false)
                #expect(try await roster.userNames(filter: "active eq false") == ["okta@example.com"])
            }
        }

        @Test("Okta: a full-user PUT with active replaces the resource (RFC 7644 §3.5.1)")
        func oktaPut() async throws {
            try await Roster.run { roster in
                let id = try await roster.createUser("okta.put@example.com", extra: #","title":"Old","active":true"#)
                let reply = try await roster.scim(.put, "/Users/\(id)", body: #"""
                    {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"okta.put@example.com","active":false,
                     "name":{"givenName":"O","familyName":"Kta"},"emails":[{"primary":true,"value":"okta.put@example.com","type":"work"}]}
                    """#)
                #expect(reply.status == .ok)
                #expect(reply.json["active"] == false)
                #expect(reply.json["title"] == nil)
                #expect(reply.json["name"]?["familyName"] == "Kta")
            }
        }

        @Test("group membership: Entra adds and removes by value array, Okta removes by filter; only those members change")
        func membership() async throws {
            try await Roster.run { roster in
                let a = try await roster.createUser("a")
                let b = try await roster.createUser("b")
                let c = try await roster.createUser("c")
                let group = try await roster.createGroup("G", members: [a])
                func members() async throws -> Set<String> {
                    Set(try await roster.scim(.get, "/Groups/\(group)").json["members"]?.arrayValue?.compactMap { $0["value"]?.stringValue } ?? [])
                }
                var reply = try await roster.patch("/Groups/\(group)", #"[{"op":"Add","path":"members","value":[{"value":"\#(b)"},{"value":"\#(c)"}]}]"#)
                #expect(reply.status == .noContent)
                #expect(reply.headers[.eTag] == #"W/"2""#)
                #expect(try await members() == [a, b, c])
                reply = try await roster.patch("/Groups/\(group)", #"[{"op":"Remove","path":"members","value":[{"value":"\#(b)"}]}]"#)
                #expect(try await members() == [a, c])
                reply = try await roster.patch(
                    "/Groups/\(group)?attributes=displayName,members",
                    #"[{"op":"remove","path":"members[value eq \"\#(a)\"]"},{"op":"replace","path":"displayName","value":"G2"}]"#)
                #expect(reply.status == .ok)
                #expect(reply.json["members"]?.arrayValue?.compactMap { $0["value"]?.stringValue } == [c])
                #expect(reply.json["displayName"] == "G2")
            }
        }

        @Test("adding an existing member and removing a non-member succeed and change nothing")
        func idempotentMembership() async throws {
            try await Roster.run { roster in
                let a = try await roster.createUser("a")
                let b = try await roster.createUser("b")
                let group = try await roster.createGroup("G", members: [a])
                let added = try await roster.patch("/Groups/\(group)", #"[{"op":"add","path":"members","value":[{"value":"\#(a)"}]}]"#)
                #expect(added.status == .noContent)
                #expect(added.headers[.eTag] == #"W/"1""#)
                let removed = try await roster.patch("/Groups/\(group)", #"[{"op":"remove","path":"members[value eq \"\#(b)\"]"}]"#)
                #expect(removed.status == .noContent)
                #expect(removed.headers[.eTag] == #"W/"1""#)
            }
        }

        @Test("a failing operation leaves the resource and its members untouched")
        func atomic() async throws {
            try await Roster.run { roster in
                let a = try await roster.createUser("a")
                let group = try await roster.createGroup("G")
                try await roster.patch("/Groups/\(group)", #"""
                    [{"op":"add","path":"members","value":[{"value":"\#(a)"}]},{"op":"replace","path":"displayName","value":"New"},
                     {"op":"add","path":"members","value":[{"value":"\#(UUID().uuidString)"}]}]
                    """#).expectScimError(.badRequest, "invalidValue")
                let group2 = try await roster.scim(.get, "/Groups/\(group)")
                #expect(group2.json["members"] == nil)
                #expect(group2.json["displayName"] == "G")
                #expect(group2.headers[.eTag] == #"W/"1""#)
            }
        }

        @Test("mutability, paths and syntax errors are SCIM errors", arguments: [
            (#"[{"op":"replace","path":"id","value":"x"}]"#, "mutability"),
            (#"[{"op":"replace","path":"nope","value":"x"}]"#, "invalidPath"),
            (#"[{"op":"remove","path":"userName"}]"#, "invalidValue"),
            (#"[{"op":"remove","path":"emails[type eq \"home\"]"}]"#, "noTarget"),
            (#"[{"op":"jump","path":"title"}]"#, "invalidSyntax"),
            (#"[{"op":"replace","path":"active","value":"maybe"}]"#, "invalidValue"),
        ])
        func errors(operations: String, scimType: String) async throws {
            try await Roster.run { roster in
                let id = try await roster.createUser("err")
                try await roster.patch("/Users/\(id)", operations).expectScimError(.badRequest, scimType)
            }
        }

        @Test("PATCH of an unknown user is 404")
        func unknown() async throws {
            try await Roster.run { roster in
                try await roster.patch("/Users/\(UUID().uuidString)", #"[{"op":"replace","path":"title","value":"x"}]"#).expectScimError(.notFound)
            }
        }
    }

    @Suite("ETags (RFC 7644 §3.14)")
    struct ETagTests {
        @Test("If-Match with a stale version is 412 on PUT, PATCH and DELETE; the current one succeeds")
        func ifMatch() async throws {
            try await Roster.run { roster in
                let id = try await roster.createUser("etag")
                let stale: HTTPFields = [.ifMatch: #"W/"7""#]
                let body = #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"etag","title":"x"}"#
                try await roster.scim(.put, "/Users/\(id)", body: body, headers: stale).expectScimError(.preconditionFailed)
                try await roster.patch("/Users/\(id)", #"[{"op":"replace","path":"title","value":"y"}]"#, headers: stale)
                    .expectScimError(.preconditionFailed)
                try await roster.scim(.delete, "/Users/\(id)", headers: stale).expectScimError(.preconditionFailed)
                let put = try await roster.scim(.put, "/Users/\(id)", body: body, headers: [.ifMatch: #"W/"1""#])
                #expect(put.status == .ok)
                #expect(put.headers[.eTag] == #"W/"2""#)
                #expect(try await roster.scim(.delete, "/Users/\(id)", headers: [.ifMatch: "*"]).status == .noContent)
            }
        }

        @Test("If-None-Match with the current version is 304 on GET")
        func ifNoneMatch() async throws {
            try await Roster.run { roster in
                let id = try await roster.createUser("etag")
                let current = try await roster.scim(.get, "/Users/\(id)", headers: [.ifNoneMatch: #"W/"1""#])
                #expect(current.status == .notModified)
                #expect(current.body.isEmpty)
                #expect(try await roster.scim(.get, "/Users/\(id)", headers: [.ifNoneMatch: #"W/"0""#]).status == .ok)
            }
        }
    }
}
