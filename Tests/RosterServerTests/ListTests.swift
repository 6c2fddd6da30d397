import Foundation
import HTTPTypes
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("Listing and filtering")
    struct ListTests {
        @Test("list defaults to startIndex 1 and pages through in a stable order")
        func paging() async throws {
            try await Roster.run { roster in
                var ids: [String] = []
                for i in 0..<5 { ids.append(try await roster.createUser("user\(i)")) }
                let all = try await roster.scim(.get, "/Users")
                #expect(all.json["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
                #expect(all.json["totalResults"] == 5)
                #expect(all.json["startIndex"] == 1)
                #expect(all.json["itemsPerPage"] == 5)
                let page = try await roster.scim(.get, "/Users?startIndex=2&count=2")
                #expect(page.json["totalResults"] == 5)
                #expect(page.json["startIndex"] == 2)
                #expect(page.json["Resources"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == Array(ids[1...2]))
                let past = try await roster.scim(.get, "/Users?startIndex=9")
                #expect(past.json["totalResults"] == 5)
                #expect(past.json["Resources"] == [])
            }
        }

        @Test("a filtered page past the end still reports the total")
        func filteredPastEnd() async throws {
            try await Roster.run { roster in
                _ = try await roster.createUser("a", extra: #","externalId":"x""#)
                _ = try await roster.createUser("b", extra: #","externalId":"x""#)
                for filter in [#"externalId eq "x""#, #"externalId eq "x" and userName pr"#] {
                    let reply = try await roster.scim(.get, "/Users?startIndex=5&filter=" + filter.urlQueryEncoded)
                    #expect(reply.json["totalResults"] == 2, "\(filter)")
                    #expect(reply.json["Resources"] == [])
                    #expect(try await roster.scim(.get, "/Users?count=1&filter=" + filter.urlQueryEncoded).json["totalResults"] == 2)
                }
            }
        }

        @Test("count=0 returns only totalResults")
        func countZero() async throws {
            try await Roster.run { roster in
                _ = try await roster.createUser("a")
                let reply = try await roster.scim(.get, "/Users?count=0")
                #expect(reply.json["totalResults"] == 1)
                #expect(reply.json["Resources"] == [])
            }
        }

        @Test("count above the maximum is clamped; non-numbers are invalidValue")
        func countLimits() async throws {
            try await Roster.run { roster in
                _ = try await roster.createUser("a")
                #expect(try await roster.scim(.get, "/Users?count=1000000").status == .ok)
                try await roster.scim(.get, "/Users?count=ten").expectScimError(.badRequest, "invalidValue")
                try await roster.scim(.get, "/Users?startIndex=x").expectScimError(.badRequest, "invalidValue")
            }
        }

        @Test("filter eq on userName is case-insensitive")
        func userNameFilter() async throws {
            try await Roster.run { roster in
                let id = try await roster.createUser("Jane.Doe@example.com")
                _ = try await roster.createUser("john@example.com")
                let reply = try await roster.scim(.get, "/Users?filter=" + #"userName eq "jane.doe@EXAMPLE.com""#.urlQueryEncoded)
                #expect(reply.json["totalResults"] == 1)
                #expect(reply.json["Resources"]?[0]?["id"] == .string(id))
            }
        }

        @Test("filter eq on externalId is case-exact; on displayName is not")
        func otherFilters() async throws {
            try await Roster.run { roster in
                let id = try await roster.createUser("k", extra: #","externalId":"AbC","displayName":"Kim Lee""#)
                #expect(try await roster.scim(.get, "/Users?filter=" + #"externalId eq "AbC""#.urlQueryEncoded).json["totalResults"] == 1)
                #expect(try await roster.scim(.get, "/Users?filter=" + #"externalId eq "abc""#.urlQueryEncoded).json["totalResults"] == 0)
                #expect(try await roster.scim(.get, "/Users?filter=" + #"displayName eq "kim lee""#.urlQueryEncoded).json["totalResults"] == 1)
                #expect(try await roster.scim(.get, "/Users?filter=" + #"id eq "\#(id)""#.urlQueryEncoded).json["totalResults"] == 1)
                #expect(try await roster.scim(.get, "/Users?filter=" + #"id eq "nope""#.urlQueryEncoded).json["totalResults"] == 0)
            }
        }

        @Test("Groups filter on displayName")
        func groupFilter() async throws {
            try await Roster.run { roster in
                let id = try await roster.createGroup("Engineering")
                _ = try await roster.createGroup("Sales")
                let reply = try await roster.scim(.get, "/Groups?filter=" + #"displayName eq "engineering""#.urlQueryEncoded)
                #expect(reply.json["totalResults"] == 1)
                #expect(reply.json["Resources"]?[0]?["id"] == .string(id))
            }
        }

        @Test("bad filters are 400 invalidFilter naming the problem, never a wrong result", arguments: [
            #"shoeSize eq "x""#, #"userName eq"#, #"userName eq 5"#, #"active eq "yes""#, #"active gt true"#,
            #"name eq "x""#, #"meta.version eq "1""#, #"meta.created gt "yesterday""#, #"password eq "x""#,
            #"urn:example:nope:attr eq "x""#, #"emails[nope eq "x"]"#, #"title[type eq "x"]"#, #"groups.display eq "x""#,
            #"emails[type eq "a"][x]"#,
        ])
        func unsupportedFilters(filter: String) async throws {
            try await Roster.run { roster in
                _ = try await roster.createUser("a")
                try await roster.scim(.get, "/Users?filter=" + filter.urlQueryEncoded).expectScimError(.badRequest, "invalidFilter")
            }
        }
    }
}

extension String {
    var urlQueryEncoded: String {
        addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? self
    }
}

extension JSONValue {
    subscript(index: Int) -> JSONValue? {
        guard let array = arrayValue, array.indices.contains(index) else { return nil }
        return array[index]
    }
}
