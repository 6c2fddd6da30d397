import Foundation
import PostgresNIO
@testable import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension StoreSuite {
    @Suite("co, sw and ew filters: trigram indexes, exact answers")
    struct TrigramFilterTests {
        /// One user of the fixture; emails' first value is `work`, the others `home`.
        struct Person: Sendable {
            var userName: String
            var displayName: String?
            var externalID: String?
            var emails: [String]
        }

        /// Names chosen so `%`, `_` and `\` would match more if they were wildcards, and so short values,
        /// case and several emails all matter.
        static let people: [Person] = [
            Person(userName: "alice", displayName: "Alice Smith", externalID: "EXT-Alpha", emails: ["Alice@Example.com", "a.smith@home.example"]),
            Person(userName: "bob_jones", displayName: "Bob 50% Jones", externalID: "ext_beta", emails: ["bob@example.com"]),
            Person(userName: "bobXjones", displayName: "Bob 50X Jones", externalID: "extXbeta", emails: ["bobXexample.com"]),
            Person(userName: "carol%x", displayName: #"Carol\Back"#, externalID: "ext%gamma", emails: ["carol_x@example.org"]),
            Person(userName: "carolYx", displayName: "CarolBack", externalID: "extYgamma", emails: ["carolyx@example.org"]),
            Person(userName: #"dave\slash"#, displayName: "Dave", externalID: "Ext-Delta", emails: [#"dave\x@example.com"#, "d%d@example.com"]),
            Person(userName: "ab", displayName: "a", externalID: nil, emails: []),
            Person(userName: "xy-AB-z", displayName: "AB", externalID: "AB", emails: ["ab@ab.ab"]),
            Person(userName: "multi", displayName: nil, externalID: "m", emails: ["first@one.example", "second@two.example", "THIRD@Three.Example"]),
        ]

        static let values = [
            "a", "ab", "AB", "b", "Bob", "b_j", "_", "50%", "%", #"\"#, #"\s"#, "ext", "EXT", "ext-", "example.com",
            "Example", ".example", "two", "second", "one.example", "Three.example", "smith", "x@", "l%x", "nobody", "ol\\b",
        ]

        enum Attribute: String, CaseIterable {
            case userName, displayName, externalId
            case emails = "emails.value"
            case workEmails = "emails[type eq \"work\" and value OP VALUE]"

            /// What the attribute's values are for `person`, and whether they compare caseExact.
            func values(of person: Person) -> (values: [String], caseExact: Bool) {
                switch self {
                case .userName: ([person.userName], false)
                case .displayName: (person.displayName.map { [$0] } ?? [], false)
                case .externalId: (person.externalID.map { [$0] } ?? [], true)
                case .emails: (person.emails, false)
                case .workEmails: (Array(person.emails.prefix(1)), false)
                }
            }

            func filter(_ op: String, _ value: String) -> String {
                let quoted = "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
                if self == .workEmails { return rawValue.replacingOccurrences(of: "OP", with: op).replacingOccurrences(of: "VALUE", with: quoted) }
                return "\(rawValue) \(op) \(quoted)"
            }
        }

        /// The SCIM meaning of `op`, evaluated in Swift: the brute force the SQL must agree with.
        static func matches(_ person: Person, _ attribute: Attribute, _ op: String, _ value: String) -> Bool {
            let (candidates, caseExact) = attribute.values(of: person)
            let wanted = caseExact ? value : value.lowercased()
            return candidates.contains { candidate in
                let actual = caseExact ? candidate : candidate.lowercased()
                switch op {
                case "co": return actual.contains(wanted)
                case "sw": return actual.hasPrefix(wanted)
                default: return actual.hasSuffix(wanted)
                }
            }
        }

        static func seed(_ people: [Person], into db: RosterDatabase, tenant: UUID) async throws {
            for person in people {
                var emails: [JSONValue] = []
                for (index, email) in person.emails.enumerated() {
                    emails.append(.object(["value": .string(email), "type": .string(index == 0 ? "work" : "home")]))
                }
                var body: [String: JSONValue] = ["userName": .string(person.userName), "emails": .array(emails)]
                if let displayName = person.displayName { body["displayName"] = .string(displayName) }
                if let externalID = person.externalID { body["externalId"] = .string(externalID) }
                // The emails column as the write path keeps it: each address lowercased, once.
                let column = Array(Set(person.emails.map { $0.lowercased() })).sorted()
                try await db.query(
                    """
                    INSERT INTO users (tenant_id, id, user_name, external_id, display_name, active, emails, created, last_modified, body)
                    VALUES (\(tenant), \(UUID()), \(person.userName), \(person.externalID), \(person.displayName), true, \(column), now(), now(),
                            \(ResourceBody(body)))
                    """)
            }
        }

        @Test("co, sw and ew on userName, displayName, externalId and emails find exactly what a brute-force evaluation finds")
        func bruteForce() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            let registry = try FilterIndexTests.registry()
            try await withStore(url: url) { db in
                let tenant = try #require(try await TenantRepository(database: db).find("default")).id
                try await Self.seed(Self.people, into: db, tenant: tenant)
                let users = UserRepository(database: db, resourceType: registry.user)
                var checked = 0
                for attribute in Attribute.allCases {
                    for op in ["co", "sw", "ew"] {
                        for value in Self.values {
                            let filter = attribute.filter(op, value)
                            let expected = Set(Self.people.filter { Self.matches($0, attribute, op, value) }.map(\.userName))
                            for negated in [false, true] {
                                let text = negated ? "not (\(filter))" : filter
                                let page = try await users.list(
                                    tenant: tenant, query: ResourceQuery(filter: try FilterParser.parse(text), page: Pagination(count: 1000)))
                                let found = Set(page.resources.compactMap { $0.body["userName"]?.stringValue })
                                let want = negated ? Set(Self.people.map(\.userName)).subtracting(expected) : expected
                                #expect(found == want, "\(text)")
                                #expect(page.totalResults == want.count, "\(text)")
                                checked += 1
                            }
                        }
                    }
                }
                #expect(checked == Attribute.allCases.count * 3 * Self.values.count * 2)
            }
        }

        @Test("a group's displayName and externalId co, sw and ew match like the users' do")
        func groups() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            let registry = try FilterIndexTests.registry()
            try await withStore(url: url) { db in
                let tenant = try #require(try await TenantRepository(database: db).find("default")).id
                for (name, external) in [("Sales_EU", "g%1"), ("SalesXEU", "gX1"), (#"Ops\Team"#, "G-2")] {
                    try await db.query(
                        """
                        INSERT INTO groups (tenant_id, id, display_name, external_id, created, last_modified, body)
                        VALUES (\(tenant), \(UUID()), \(name), \(external), now(), now(), \(ResourceBody(["displayName": .string(name)])))
                        """)
                }
                let groups = GroupRepository(database: db, resourceType: registry.group)
                for (filter, expected) in [
                    (#"displayName co "s_e""#, ["Sales_EU"]), (#"displayName sw "SALES""#, ["Sales_EU", "SalesXEU"]),
                    (#"displayName ew "\\team""#, [#"Ops\Team"#]), (#"externalId co "%""#, ["Sales_EU"]),
                    (#"externalId sw "g""#, ["Sales_EU", "SalesXEU"]), (#"externalId ew "x1""#, []),
                ] {
                    let page = try await groups.list(tenant: tenant, query: ResourceQuery(filter: try FilterParser.parse(filter)), withMembers: false)
                    #expect(Set(page.resources.compactMap { $0.resource.body["displayName"]?.stringValue }) == Set(expected), "\(filter)")
                }
            }
        }

        @Test("co, sw and ew plan a trigram index scan on 20 000 users and groups", arguments: [
            (#"userName co "er-1234""#, "users_user_name_trgm"),
            (#"userName sw "USER-1234""#, "users_user_name_trgm"),
            (#"userName ew "r-12345""#, "users_user_name_trgm"),
            (#"displayName co "son 1234""#, "users_display_name_trgm"),
            (#"displayName sw "person 1234""#, "users_display_name_trgm"),
            (#"displayName ew "on 12345""#, "users_display_name_trgm"),
            (#"externalId co "xt-1234""#, "users_external_id_trgm"),
            (#"externalId sw "ext-1234""#, "users_external_id_trgm"),
            (#"externalId ew "t-12345""#, "users_external_id_trgm"),
            (#"emails.value co "r-1234@exa""#, "users_emails_trgm"),
            (#"emails.value sw "user-1234@""#, "users_emails_trgm"),
            (#"emails.value ew "12345@example.com""#, "users_emails_trgm"),
            (#"emails co "r-1234@exa""#, "users_emails_trgm"),
            (#"emails[type eq "work" and value sw "user-1234@"]"#, "users_emails_trgm"),
            (#"group:displayName co "team 1234""#, "groups_display_name_trgm"),
            (#"group:externalId sw "gext-1234""#, "groups_external_id_trgm"),
        ])
        func plans(filter: String, index: String) async throws {
            let url = try await TestPostgres.require().freshDatabase()
            let registry = try FilterIndexTests.registry()
            try await withStore(url: url) { db in
                let tenant = try #require(try await TenantRepository(database: db).find("default")).id
                try await db.query(
                    """
                    INSERT INTO users (tenant_id, id, user_name, external_id, display_name, active, emails, created, last_modified, body)
                    SELECT \(tenant), gen_random_uuid(), 'user-' || i, 'ext-' || i, 'Person ' || i, true,
                           ARRAY['user-' || i || '@example.com'], now(), now(),
                           jsonb_build_object('userName', 'user-' || i, 'emails',
                               jsonb_build_array(jsonb_build_object('value', 'user-' || i || '@example.com', 'type', 'work')))
                    FROM generate_series(1, 20000) AS i
                    """)
                try await db.query(
                    """
                    INSERT INTO groups (tenant_id, id, display_name, external_id, created, last_modified, body)
                    SELECT \(tenant), gen_random_uuid(), 'Team ' || i, 'gext-' || i, now(), now(), jsonb_build_object('displayName', 'Team ' || i)
                    FROM generate_series(1, 20000) AS i
                    """)
                try await db.query("ANALYZE users")
                try await db.query("ANALYZE groups")
                let isGroup = filter.hasPrefix("group:")
                var sql = SQLBuilder()
                sql.append("EXPLAIN SELECT id FROM \(isGroup ? "groups" : "users") WHERE tenant_id = ")
                sql.bind(tenant)
                sql.append(" AND ")
                try FilterCompiler(resourceType: isGroup ? registry.group : registry.user, table: isGroup ? .groups : .users)
                    .compile(try FilterParser.parse(isGroup ? String(filter.dropFirst(6)) : filter), into: &sql)
                let statement = sql.query
                // One session: without a sequential scan to fall back on, the plan is the index or nothing.
                let plan = try await db.transaction { connection in
                    try await connection.query("SET LOCAL enable_seqscan = off", logger: db.logger)
                    return try await connection.query(statement, logger: db.logger).collect().map { try $0.decode(String.self) }
                }.joined(separator: "\n")
                #expect(plan.contains(index), "\(filter)\n\(plan)")
            }
        }
    }
}
