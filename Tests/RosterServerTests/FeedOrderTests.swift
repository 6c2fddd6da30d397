import Foundation
import HTTPTypes
import RosterServer
import SCIM
import Testing

extension ServerSuite {
    @Suite("Change feed newest first: pages toward older events, then follows new ones from poll_cursor")
    struct FeedOrderTests {
        @Test(
            "order=desc pages newest first, each event once, an event committed meanwhile in none of its pages; poll_cursor then reads exactly the events committed since its page"
        )
        func newestFirst() async throws {
            try await Roster.run { roster in
                for i in 0..<7 { _ = try await roster.createUser("u\(i)") }
                var sequences: [JSONValue] = []
                var poll: String?
                var cursor: String?
                var pages = 0
                repeat {
                    let reply = try await roster.admin(.get, "/events?order=desc&limit=3" + (cursor.map { "&after=\($0)" } ?? ""))
                    #expect(reply.status == .ok, "\(reply.body)")
                    if pages == 0 {
                        poll = reply.json["poll_cursor"]?.stringValue
                    } else {
                        #expect(reply.json["poll_cursor"] == nil, "only the first page's head is safe to follow from")
                    }
                    sequences += reply.json["data"]?.arrayValue?.map { $0["sequence"] ?? .null } ?? []
                    cursor = reply.json["next_cursor"]?.stringValue
                    pages += 1
                    if pages == 1 { _ = try await roster.createUser("meanwhile") }
                } while cursor != nil && pages < 10
                #expect(sequences == (1...7).reversed().map { .integer($0) })
                #expect(pages == 3)
                #expect(poll == "7")

                _ = try await roster.createUser("later")
                let since = try await roster.admin(.get, "/events?after=\(try #require(poll))")
                #expect(since.json["data"]?.arrayValue?.map { $0["sequence"] } == [8, 9])
                #expect(since.json["data"]?.arrayValue?.map { $0["data"]?["userName"] } == ["meanwhile", "later"])
                #expect(since.json["next_cursor"] == "9" && since.json["poll_cursor"] == nil)

                // Filters narrow a newest-first read as they do the other.
                let created = try await roster.admin(.get, "/events?order=desc&type=user.created&limit=2")
                #expect(created.json["data"]?.arrayValue?.map { $0["sequence"] } == [9, 8])
                #expect(created.json["poll_cursor"] == "9")
            }
        }

        @Test("without order, or with order=asc, the feed answers as it always did: next_cursor on every page, no poll_cursor")
        func oldestFirstUnchanged() async throws {
            try await Roster.run { roster in
                #expect(try await roster.admin(.get, "/events").json == ["data": [], "next_cursor": "0"])
                for i in 0..<3 { _ = try await roster.createUser("u\(i)") }
                for query in ["limit=2", "after=1", "after=3", "after=99", "limit=1&type=user.deleted"] {
                    let plain = try await roster.admin(.get, "/events?\(query)")
                    let ascending = try await roster.admin(.get, "/events?\(query)&order=asc")
                    #expect(plain.status == .ok && plain.body == ascending.body, "\(query)")
                    #expect(plain.json["next_cursor"]?.stringValue != nil && plain.json["poll_cursor"] == nil, "\(query)")
                }
                let newest = try await roster.admin(.get, "/events?order=desc")
                #expect(newest.json["data"]?.arrayValue?.count == 3)
                #expect(newest.json["next_cursor"] == nil && newest.json["poll_cursor"] == "3", "one page: the last")
                _ = try await roster.otherTenant("quiet")
                #expect(try await roster.admin(.get, "/tenants/quiet/events?order=desc").json == ["data": [], "poll_cursor": "0"])
            }
        }

        @Test("a cursor of one order is refused in the other, as are another tenant's newest-first cursor and an unknown order")
        func refusals() async throws {
            try await Roster.run { roster in
                for i in 0..<3 { _ = try await roster.createUser("u\(i)") }
                let newest = try #require(try await roster.admin(.get, "/events?order=desc&limit=1").json["next_cursor"]?.stringValue)
                let oldest = try #require(try await roster.admin(.get, "/events?limit=1").json["next_cursor"]?.stringValue)
                _ = try await roster.otherTenant("acme")
                for path in [
                    "/events?after=\(newest)", "/events?order=asc&after=\(newest)", "/events?order=desc&after=\(oldest)",
                    "/events?order=desc&after=garbage", "/tenants/acme/events?order=desc&after=\(newest)", "/events?order=sideways",
                    "/events?order=DESC", "/events?order=desc&limit=0", "/events?order=desc&limit=1001",
                ] {
                    let reply = try await roster.admin(.get, path)
                    reply.expectAdminError(.badRequest)
                    #expect(reply.json["error"]?["code"] == "invalid_request", "\(path): \(reply.body)")
                }
                #expect(try await roster.admin(.get, "/events?order=desc&after=\(newest)").json["data"]?.arrayValue?.count == 2)
            }
        }
    }
}
