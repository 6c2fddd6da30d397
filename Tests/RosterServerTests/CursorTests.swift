import Foundation
import HTTPTypes
import RosterServer
import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("Cursor pagination (RFC 9865)")
    struct CursorTests {
        /// Follows nextCursor from the first page; returns the userNames in order and the number of pages.
        static func walk(_ roster: Roster, _ query: String) async throws -> (names: [String], pages: Int) {
            var names: [String] = []
            var cursor = ""
            var pages = 0
            while pages < 50 {
                let reply = try await roster.scim(.get, "/Users?\(query)&cursor=\(cursor)")
                #expect(reply.status == .ok, "\(reply.body)")
                #expect(reply.json["startIndex"] == nil)
                names += reply.json["Resources"]?.arrayValue?.compactMap { $0["userName"]?.stringValue } ?? []
                pages += 1
                guard let next = reply.json["nextCursor"]?.stringValue else { break }
                #expect(next.allSatisfy { $0.isLetter || $0.isNumber || "-._~".contains($0) }, "cursors are URL-safe")
                cursor = next
            }
            return (names, pages)
        }

        @Test("nextCursor walks every row once, in order, and is absent on the last page")
        func walkAll() async throws {
            try await Roster.run { roster in
                for i in 0..<7 { _ = try await roster.createUser("u\(i)", extra: i % 3 == 0 ? "" : #","title":"t\#(i % 2)""#) }
                let plain = try await Self.walk(roster, "count=3")
                #expect(plain.names == (0..<7).map { "u\($0)" })
                #expect(plain.pages == 3)
                // Sorted on a key with ties and NULLs: still every row once, NULLs last.
                let sorted = try await Self.walk(roster, "count=2&sortBy=title")
                #expect(sorted.names.count == 7)
                #expect(Set(sorted.names).count == 7)
                #expect(Array(sorted.names.suffix(3)).sorted() == ["u0", "u3", "u6"])
                let descending = try await Self.walk(roster, "count=2&sortBy=userName&sortOrder=descending")
                #expect(descending.names == (0..<7).reversed().map { "u\($0)" })
                let filtered = try await Self.walk(roster, "count=1&filter=" + #"title eq "t1""#.urlQueryEncoded)
                #expect(filtered.names == ["u1", "u5"])
            }
        }

        /// Walks to the last page, then follows previousCursor back to the first; returns each page's userNames
        /// going forwards and, going backwards, in the order the pages came.
        static func walkBack(_ roster: Roster, _ query: String) async throws -> (forward: [[String]], backward: [[String]]) {
            func names(_ reply: Reply) -> [String] {
                reply.json["Resources"]?.arrayValue?.compactMap { $0["userName"]?.stringValue } ?? []
            }
            var forward: [[String]] = []
            var reply = try await roster.scim(.get, "/Users?\(query)&cursor=")
            #expect(reply.json["previousCursor"] == nil, "the first page has no previousCursor")
            while true {
                forward.append(names(reply))
                guard let next = reply.json["nextCursor"]?.stringValue, forward.count < 50 else { break }
                reply = try await roster.scim(.get, "/Users?\(query)&cursor=\(next)")
            }
            var backward: [[String]] = [forward.last ?? []]
            while let previous = reply.json["previousCursor"]?.stringValue, backward.count < 50 {
                reply = try await roster.scim(.get, "/Users?\(query)&cursor=\(previous)")
                #expect(reply.status == .ok, "\(reply.body)")
                #expect(reply.json["nextCursor"]?.stringValue != nil, "a page reached backwards has a next page")
                backward.append(names(reply))
            }
            return (forward, backward)
        }

        @Test("previousCursor walks back page by page to the first page, which has none; also sorted, with NULLs, descending")
        func previousCursor() async throws {
            try await Roster.run { roster in
                for i in 0..<7 { _ = try await roster.createUser("u\(i)", extra: i % 3 == 0 ? "" : #","title":"t\#(i % 2)""#) }
                for query in ["count=3", "count=2&sortBy=title", "count=2&sortBy=title&sortOrder=descending", "count=3&sortBy=userName&sortOrder=descending"] {
                    let (forward, backward) = try await Self.walkBack(roster, query)
                    #expect(forward.flatMap { $0 }.count == 7, "\(query)")
                    #expect(backward == forward.reversed(), "\(query): back \(backward), forth \(forward)")
                }
                // A backward page's nextCursor goes forwards again.
                let first = try await roster.scim(.get, "/Users?count=3&cursor=")
                let second = try await roster.scim(.get, "/Users?count=3&cursor=\(try #require(first.json["nextCursor"]?.stringValue))")
                let back = try await roster.scim(.get, "/Users?count=3&cursor=\(try #require(second.json["previousCursor"]?.stringValue))")
                #expect(back.json["Resources"] == first.json["Resources"])
                let again = try await roster.scim(.get, "/Users?count=3&cursor=\(try #require(back.json["nextCursor"]?.stringValue))")
                #expect(again.json["Resources"] == second.json["Resources"])
            }
        }

        @Test("the first page may be asked for with a bare ?cursor, and via POST /.search")
        func firstPageForms() async throws {
            try await Roster.run { roster in
                for i in 0..<3 { _ = try await roster.createUser("u\(i)") }
                let bare = try await roster.scim(.get, "/Users?cursor&count=2")
                #expect(bare.json["nextCursor"]?.stringValue != nil)
                #expect(bare.json["totalResults"] == 3)
                let search = try await roster.scim(.post, "/Users/.search", body: #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"cursor":"","count":2}"#)
                let next = try #require(search.json["nextCursor"]?.stringValue)
                let second = try await roster.scim(.post, "/Users/.search", body: #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"cursor":"\#(next)","count":2}"#)
                #expect(second.json["Resources"]?.arrayValue?.count == 1)
                #expect(second.json["nextCursor"] == nil)
            }
        }

        @Test("a tampered cursor, one for another query, or from another tenant is invalidCursor; another count is invalidCount")
        func bindings() async throws {
            try await Roster.run { roster in
                for i in 0..<3 { _ = try await roster.createUser("u\(i)") }
                let next = try #require(try await roster.scim(.get, "/Users?count=1&cursor=").json["nextCursor"]?.stringValue)
                var tampered = Array(next)
                tampered[4] = tampered[4] == "A" ? "B" : "A"
                try await roster.scim(.get, "/Users?count=1&cursor=\(String(tampered))").expectScimError(.badRequest, "invalidCursor")
                try await roster.scim(.get, "/Users?count=1&cursor=garbage").expectScimError(.badRequest, "invalidCursor")
                try await roster.scim(.get, "/Users?count=1&sortBy=userName&cursor=\(next)").expectScimError(.badRequest, "invalidCursor")
                try await roster.scim(.get, "/Users?count=2&cursor=\(next)").expectScimError(.badRequest, "invalidCount")
                try await roster.scim(.get, "/Groups?count=1&cursor=\(next)").expectScimError(.badRequest, "invalidCursor")
                let other = try await roster.otherTenant("acme")
                try await roster.scim(.get, "/Users?count=1&cursor=\(next)", token: other.token).expectScimError(.badRequest, "invalidCursor")
                try await roster.scim(.get, "/Users?count=5000&cursor=").expectScimError(.badRequest, "invalidCount")
                try await roster.scim(.get, "/Users?startIndex=1&cursor=").expectScimError(.badRequest, "invalidValue")
            }
        }

        @Test("ServiceProviderConfig advertises both pagination methods with their limits")
        func advertised() async throws {
            try await Roster.run { roster in
                let config = try await roster.send(.get, "/scim/v2/ServiceProviderConfig").json
                #expect(config["pagination"] == [
                    "cursor": true, "index": true, "defaultPaginationMethod": "index", "defaultPageSize": 100,
                    "maxPageSize": 1000, "cursorTimeout": 3600,
                ])
            }
        }
    }
}
