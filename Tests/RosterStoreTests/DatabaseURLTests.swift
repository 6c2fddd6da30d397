import RosterStore
import Testing

@Suite("Database URLs, libpq's way: one host or several, and the session they ask for")
struct DatabaseURLTests {
    @Test("hosts, ports and target_session_attrs are read as libpq reads them", arguments: [
        ("postgres://roster:pw@db:5433/roster", ["db:5433"], "any"),
        ("postgresql://roster@db/roster", ["db:5432"], "any"),
        ("postgres://roster:pw@h1:5432,h2:5433/roster?target_session_attrs=read-write", ["h1:5432", "h2:5433"], "read-write"),
        ("postgres://roster@h1,h2,h3/roster?target_session_attrs=primary&sslmode=disable", ["h1:5432", "h2:5432", "h3:5432"], "primary"),
        ("postgres://roster@[::1]:6432,127.0.0.1/roster", ["[::1]:6432", "127.0.0.1:5432"], "any"),
        ("postgres://roster@[fd00::2]/roster?target_session_attrs=any", ["[fd00::2]:5432"], "any"),
    ])
    func reads(url: String, hosts: [String], target: String) throws {
        let parsed = try DatabaseURL(url)
        #expect(parsed.hosts.map(\.description) == hosts)
        #expect(parsed.targetSessionAttributes.rawValue == target)
        #expect(parsed.username == "roster")
        #expect(parsed.database == "roster")
        // Logs show every host and never the password.
        #expect(parsed.description == "postgres://roster@\(hosts.joined(separator: ","))/roster")
    }

    @Test("what a writer cannot use, or libpq would not read, is refused with a reason", arguments: [
        ("postgres://roster@h1,h2/roster?target_session_attrs=standby", "Roster writes"),
        ("postgres://roster@h1/roster?target_session_attrs=read-only", "Roster writes"),
        ("postgres://roster@h1/roster?target_session_attrs=prefer-standby", "Roster writes"),
        ("postgres://roster@h1,/roster", "host"),
        ("postgres://roster@h1:99999/roster", "port"),
        ("postgres://roster@h1:x/roster", "port"),
        ("postgres://roster@[::1/roster", "unclosed"),
        ("postgres://h1,h2/roster", "user name"),
        ("mysql://roster@h1/roster", "postgres://"),
        ("postgres://roster@h1/roster?connect_timeout=soon", "connect_timeout"),
    ])
    func refuses(url: String, reason: String) {
        #expect {
            try DatabaseURL(url)
        } throws: { error in
            String(describing: error).contains(reason)
        }
    }

    @Test("connect_timeout bounds each attempt: libpq's seconds, at least 2, 10 when none")
    func connectTimeout() throws {
        #expect(try DatabaseURL("postgres://r@h/d").connectTimeout == .seconds(10))
        #expect(try DatabaseURL("postgres://r@h/d?connect_timeout=5").connectTimeout == .seconds(5))
        #expect(try DatabaseURL("postgres://r@h/d?connect_timeout=1").connectTimeout == .seconds(2))
        #expect(try DatabaseURL("postgres://r@h/d?connect_timeout=0").connectTimeout == .seconds(10))
    }

    @Test("a password from a file goes into a URL with several hosts and leaves the hosts as written")
    func passwordIntoHostList() throws {
        let url = "postgres://roster@h1:5432,[::1]:5433/roster?target_session_attrs=read-write"
        let replaced = try DatabaseURL.replacingPassword(in: url, with: "p@ss,word:/")
        #expect(replaced.hasPrefix("postgres://roster:"))
        #expect(replaced.hasSuffix("@h1:5432,[::1]:5433/roster?target_session_attrs=read-write"))
        let parsed = try DatabaseURL(replaced)
        #expect(parsed.password == "p@ss,word:/")
        #expect(parsed.hosts.map(\.description) == ["h1:5432", "[::1]:5433"])
    }
}
