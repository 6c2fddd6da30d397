import Foundation
import HTTPTypes
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("Filters compiled to SQL (RFC 7644 §3.4.2.2)")
    struct FilterTests {
        static let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

        /// Five users with varied attributes.
        static func seed(_ roster: Roster) async throws {
            _ = try await roster.createUser("alice", extra: #"""
                ,"displayName":"Alice Adams","title":"Engineer","active":true,"name":{"familyName":"Adams","givenName":"Alice"},
                "emails":[{"value":"alice@work.example","type":"work","primary":true},{"value":"alice@home.example","type":"home"}],
                "\#(enterprise)":{"employeeNumber":"100","department":"R&D"}
                """#)
            _ = try await roster.createUser("bob", extra: #"""
                ,"displayName":"Bob Brown","title":"50% off_sale\\x","active":false,"name":{"familyName":"Brown"},
                "emails":[{"value":"bob@home.example","type":"home"}],"\#(enterprise)":{"department":"Sales"}
                """#)
            _ = try await roster.createUser("carol", extra: #","displayName":"Carol","title":"Engineer manager","active":true"#)
            _ = try await roster.createUser("dave", extra: #","externalId":"ext-dave""#)
            _ = try await roster.createUser("Eve", extra: #","title":"","emails":[{"value":"EVE@Work.Example","type":"work"}]"#)
        }

        @Test("each comparison operator on strings", arguments: [
            (#"title eq "engineer""#, ["alice"]),
            (#"title ne "Engineer""#, ["bob", "carol", "dave", "Eve"]),
            (#"title co "gineer""#, ["alice", "carol"]),
            (#"title sw "eng""#, ["alice", "carol"]),
            (#"title ew "MANAGER""#, ["carol"]),
            (#"userName gt "carol""#, ["dave", "Eve"]),
            (#"userName ge "carol""#, ["carol", "dave", "Eve"]),
            (#"userName lt "bob""#, ["alice"]),
            (#"userName le "bob""#, ["alice", "bob"]),
            (#"title pr"#, ["alice", "bob", "carol"]),
            (#"externalId pr"#, ["dave"]),
        ])
        func stringOperators(filter: String, expected: [String]) async throws {
            try await Roster.run { roster in
                try await Self.seed(roster)
                #expect(Set(try await roster.userNames(filter: filter)) == Set(expected), "\(filter)")
            }
        }

        @Test("and binds tighter than or; not and parentheses as written", arguments: [
            (#"userName eq "alice" or userName eq "bob" and active eq true"#, ["alice"]),
            (#"(userName eq "alice" or userName eq "bob") and active eq true"#, ["alice"]),
            (#"not (active eq true)"#, ["bob", "dave", "Eve"]),
            (#"active eq false or not (title pr)"#, ["bob", "dave", "Eve"]),
        ])
        func precedence(filter: String, expected: [String]) async throws {
            try await Roster.run { roster in
                try await Self.seed(roster)
                #expect(Set(try await roster.userNames(filter: filter)) == Set(expected), "\(filter)")
            }
        }

        @Test("sub-attributes, schema-qualified paths, value paths and multi-valued sub-attributes", arguments: [
            (#"name.familyName eq "adams""#, ["alice"]),
            (#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob""#, ["bob"]),
            (#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "sales""#, ["bob"]),
            (#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber pr"#, ["alice"]),
            (#"emails[type eq "work" and value co "@work.example"]"#, ["alice", "Eve"]),
            (#"emails[type eq "home"]"#, ["alice", "bob"]),
            (#"emails.value eq "eve@work.example""#, ["Eve"]),
            (#"emails eq "bob@home.example""#, ["bob"]),
            (#"emails.type eq "work""#, ["alice", "Eve"]),
            (#"emails[type eq "work"].value eq "alice@work.example""#, ["alice"]),
            (#"emails pr"#, ["alice", "bob", "Eve"]),
            (#"EMAILS[TYPE EQ "work"]"#, ["alice", "Eve"]),
        ])
        func paths(filter: String, expected: [String]) async throws {
            try await Roster.run { roster in
                try await Self.seed(roster)
                #expect(Set(try await roster.userNames(filter: filter)) == Set(expected), "\(filter)")
            }
        }

        @Test("booleans and dates: active, meta.created, meta.lastModified")
        func booleansAndDates() async throws {
            try await Roster.run { roster in
                try await Self.seed(roster)
                #expect(Set(try await roster.userNames(filter: "active eq true")) == ["alice", "carol"])
                #expect(Set(try await roster.userNames(filter: "active ne true")) == ["bob", "dave", "Eve"])
                #expect(try await roster.userNames(filter: #"meta.created gt "2000-01-01T00:00:00Z""#).count == 5)
                #expect(try await roster.userNames(filter: #"meta.lastModified lt "2000-01-01T00:00:00Z""#).isEmpty)
                #expect(try await roster.userNames(filter: "externalId eq null").count == 4)
            }
        }

        @Test("%, _ and \\ in co/sw/ew match literally")
        func likeEscaping() async throws {
            try await Roster.run { roster in
                try await Self.seed(roster)
                #expect(try await roster.userNames(filter: #"title co "50%""#) == ["bob"])
                #expect(try await roster.userNames(filter: #"title co "%""#) == ["bob"])
                #expect(try await roster.userNames(filter: #"title co "f_s""#) == ["bob"])
                #expect(try await roster.userNames(filter: #"title co "_""#) == ["bob"])
                #expect(try await roster.userNames(filter: #"title ew "\\x""#) == ["bob"])
                #expect(try await roster.userNames(filter: #"title sw "5_""#).isEmpty)
            }
        }

        @Test("SQL injection attempts are literal comparisons", arguments: [
            #"userName eq "x\" or 1=1 --""#, #"userName eq "alice' OR '1'='1""#, #"userName co "'; DROP TABLE users; --""#,
            #"title eq "\u0000""#,
        ])
        func injection(filter: String) async throws {
            try await Roster.run { roster in
                try await Self.seed(roster)
                let reply = try await roster.scim(.get, "/Users?filter=" + filter.urlQueryEncoded)
                #expect(reply.status == .ok || reply.status == .badRequest, "\(reply.body)")
                #expect(reply.json["totalResults"] == nil || reply.json["totalResults"] == 0)
                #expect(try await roster.scim(.get, "/Users").json["totalResults"] == 5)
            }
        }

        @Test("an attribute name cannot inject SQL either")
        func attributeInjection() async throws {
            try await Roster.run { roster in
                try await Self.seed(roster)
                try await roster.scim(.get, "/Users?filter=" + #"userName) or (1=1 eq "x""#.urlQueryEncoded)
                    .expectScimError(.badRequest, "invalidFilter")
            }
        }

        @Test("Groups: members eq, members[value eq], and the membership probe come from group_members")
        func memberFilters() async throws {
            try await Roster.run { roster in
                let alice = try await roster.createUser("alice")
                let bob = try await roster.createUser("bob")
                let admins = try await roster.createGroup("Admins", members: [alice])
                let staff = try await roster.createGroup("Staff", members: [alice, bob])
                func groups(_ filter: String) async throws -> Set<String> {
                    let reply = try await roster.scim(.get, "/Groups?filter=" + filter.urlQueryEncoded)
                    #expect(reply.status == .ok, "\(reply.body)")
                    return Set(reply.json["Resources"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? [])
                }
                #expect(try await groups(#"members eq "\#(bob)""#) == [staff])
                #expect(try await groups(#"members[value eq "\#(alice)"]"#) == [admins, staff])
                #expect(try await groups(#"members.value eq "\#(bob)""#) == [staff])
                #expect(try await groups(#"id eq "\#(admins)" and members eq "\#(bob)""#).isEmpty)
                #expect(try await groups(#"id eq "\#(staff)" and members eq "\#(bob)""#) == [staff])
                #expect(try await groups(#"members[type eq "User"]"#) == [admins, staff])
                #expect(try await groups(#"not (members pr)"#).isEmpty)
            }
        }
    }
}
