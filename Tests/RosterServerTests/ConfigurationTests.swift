import Configuration
import RosterServer
import Testing

@Suite("Configuration from the environment")
struct ConfigurationTests {
    static func configuration(_ environment: [String: String]) throws -> RosterConfiguration {
        try RosterConfiguration(reader: ConfigReader(provider: EnvironmentVariablesProvider(environmentVariables: environment)))
    }

    @Test("webhooks: private URLs refused and a day of secret overlap by default; ROSTER_WEBHOOK_* change both; a negative overlap is refused")
    func webhookSettings() throws {
        let defaults = try Self.configuration([:])
        #expect(defaults.webhooks.urlPolicy.allowPrivate == false)
        #expect(defaults.webhookSecretOverlap == .seconds(86_400))
        let set = try Self.configuration(["ROSTER_WEBHOOK_ALLOW_PRIVATE_URLS": "true", "ROSTER_WEBHOOK_SECRET_OVERLAP_SECONDS": "60"])
        #expect(set.webhooks.urlPolicy.allowPrivate == true)
        #expect(set.webhookSecretOverlap == .seconds(60))
        #expect(throws: RosterConfiguration.Invalid.self) { try Self.configuration(["ROSTER_WEBHOOK_SECRET_OVERLAP_SECONDS": "-1"]) }
    }
}
