import Foundation
import HTTPTypes
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("Sorting and POST /.search")
    struct SortAndSearchTests {
        @Test("sortBy and sortOrder order in SQL, case-insensitively for userName")
        func sort() async throws {
            try await Roster.run { roster in
                for name in ["delta", "Alpha", "charlie", "bravo"] { _ = try await roster.createUser(name) }
                #expect(try await roster.userNames(filter: "userName pr", extra: "&sortBy=userName") == ["Alpha", "bravo", "charlie", "delta"])
                #expect(try await roster.userNames(filter: "userName pr", extra: "&sortBy=userName&sortOrder=descending")
                    == ["delta", "charlie", "bravo", "Alpha"])
                try await roster.scim(.get, "/Users?sortBy=userName&sortOrder=sideways").expectScimError(.badRequest, "invalidValue")
                try await roster.scim(.get, "/Users?sortBy=nope").expectScimError(.badRequest, "invalidValue")
            }
        }

        @Test("pages sorted on a tied key never repeat or skip a row")
        func stableTieBreak() async throws {
            try await Roster.run { roster in
                var ids: Set<String> = []
                for i in 0..<7 { ids.insert(try await roster.createUser("user\(i)", extra: #","title":"same""#)) }
                var seen: [String] = []
                for start in stride(from: 1, through: 7, by: 2) {
                    let page = try await roster.scim(.get, "/Users?sortBy=title&count=2&startIndex=\(start)")
                    seen += page.json["Resources"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
                }
                #expect(seen.count == 7)
                #expect(Set(seen) == ids)
            }
        }

        @Test("sort by a sub-attribute and by a multi-valued attribute's primary value")
        func sortPaths() async throws {
            try await Roster.run { roster in
                _ = try await roster.createUser("x", extra: #","name":{"familyName":"Zed"},"emails":[{"value":"b@x"},{"value":"z@x","primary":true}]"#)
                _ = try await roster.createUser("y", extra: #","name":{"familyName":"Ash"},"emails":[{"value":"m@x"}]"#)
                #expect(try await roster.userNames(filter: "userName pr", extra: "&sortBy=name.familyName") == ["y", "x"])
                #expect(try await roster.userNames(filter: "userName pr", extra: "&sortBy=emails") == ["y", "x"])
            }
        }

        @Test("POST /Users/.search has GET's semantics, including projection and paging")
        func usersSearch() async throws {
            try await Roster.run { roster in
                for name in ["a", "b", "c"] { _ = try await roster.createUser(name, extra: #","title":"t-\#(name)""#) }
                let reply = try await roster.scim(.post, "/Users/.search", body: #"""
                    {"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName ne \"b\"",
                     "sortBy":"userName","sortOrder":"descending","startIndex":1,"count":1,"attributes":["title"]}
                    """#)
                #expect(reply.status == .ok, "\(reply.body)")
                #expect(reply.json["totalResults"] == 2)
                #expect(reply.json["Resources"]?[0]?["title"] == "t-c")
                #expect(reply.json["Resources"]?[0]?["userName"] == nil)
                try await roster.scim(.post, "/Users/.search", body: #"{"filter":"userName pr"}"#).expectScimError(.badRequest, "invalidSyntax")
            }
        }

        @Test("POST /Groups/.search and the root /.search")
        func groupAndRootSearch() async throws {
            try await Roster.run { roster in
                let alice = try await roster.createUser("alice")
                _ = try await roster.createUser("bob")
                _ = try await roster.createGroup("Admins", members: [alice])
                let groups = try await roster.scim(.post, "/Groups/.search", body: #"""
                    {"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"displayName eq \"admins\""}
                    """#)
                #expect(groups.json["totalResults"] == 1)
                let all = try await roster.scim(.post, "/.search", body: #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}"#)
                #expect(all.json["totalResults"] == 3)
                let types = all.json["Resources"]?.arrayValue?.compactMap { $0["meta"]?["resourceType"]?.stringValue }
                #expect(types == ["User", "User", "Group"])
                let paged = try await roster.scim(.post, "/.search", body: #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"startIndex":2,"count":2}"#)
                #expect(paged.json["Resources"]?.arrayValue?.compactMap { $0["meta"]?["resourceType"]?.stringValue } == ["User", "Group"])
                let byUserName = try await roster.scim(.post, "/.search", body: #"""
                    {"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName eq \"bob\""}
                    """#)
                #expect(byUserName.json["totalResults"] == 1)
            }
        }
    }
}
