import Configuration
import RosterAuth
import RosterServer
import Testing

@Suite("Rate-limit configuration from the environment")
struct RateLimitConfigurationTests {
    static func configuration(_ environment: [String: String]) throws -> RosterConfiguration {
        try RosterConfiguration(reader: ConfigReader(provider: EnvironmentVariablesProvider(environmentVariables: environment)))
    }

    @Test("defaults: 3000/60s per SCIM token, 1200/60s per admin key, overrides re-read every 2 s")
    func defaults() throws {
        let limits = try Self.configuration([:]).rateLimits
        #expect(limits.scim == RateLimitPolicy(limit: 3000, windowSeconds: 60))
        #expect(limits.admin == RateLimitPolicy(limit: 1200, windowSeconds: 60))
        #expect(limits.refreshInterval == .seconds(2))
    }

    @Test("ROSTER_RATE_LIMIT_SCIM / _ADMIN take <requests>/<seconds>s or off; anything else is refused at start")
    func parsed() throws {
        let set = try Self.configuration([
            "ROSTER_RATE_LIMIT_SCIM": "100/10s", "ROSTER_RATE_LIMIT_ADMIN": " OFF ", "ROSTER_RATE_LIMIT_REFRESH_MS": "250",
        ]).rateLimits
        #expect(set.scim == RateLimitPolicy(limit: 100, windowSeconds: 10))
        #expect(set.admin == nil)
        #expect(set.refreshInterval == .milliseconds(250))
        for bad in [["ROSTER_RATE_LIMIT_SCIM": "100"], ["ROSTER_RATE_LIMIT_ADMIN": "0/60s"], ["ROSTER_RATE_LIMIT_SCIM": "10/90000s"],
                    ["ROSTER_RATE_LIMIT_REFRESH_MS": "0"]] {
            #expect(throws: RosterConfiguration.Invalid.self, "\(bad)") { try Self.configuration(bad) }
        }
    }
}
