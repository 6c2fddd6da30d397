import Foundation
import RosterFeed
import RosterOutbound
import RosterStore
import Testing

@Suite("Standard Webhooks signatures and the retry schedule")
struct StandardWebhooksTests {
    @Test("the specification's test vector")
    func testVector() throws {
        let secret = try #require(WebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
        let signature = WebhookSigner.signature(
            id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: Data(#"{"test": 2432232314}"#.utf8), secret: secret)
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }

    @Test("during a rotation the header carries one signature per secret; secrets are whsec_ and 24 to 64 bytes, never printed")
    func secrets() throws {
        let old = WebhookSecret.generate(), new = WebhookSecret.generate()
        #expect(old != new)
        #expect(old.text.hasPrefix("whsec_"))
        #expect(Data(base64Encoded: String(old.text.dropFirst(6)))?.count == 32)
        #expect("\(old)" == "whsec_…")
        let headers = WebhookSigner.headers(id: "evt_1", timestamp: 1, body: Data("{}".utf8), secrets: [new, old])
        let signatures = try #require(headers.first { $0.0 == "webhook-signature" }?.1).split(separator: " ")
        #expect(signatures.count == 2)
        #expect(String(signatures[1]) == WebhookSigner.signature(id: "evt_1", timestamp: 1, body: Data("{}".utf8), secret: old))
        #expect(WebhookSecret("whsec_!!!") == nil)
        #expect(WebhookSecret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") == nil)
    }

    @Test("the schedule: its delays with bounded jitter, then nothing")
    func schedule() throws {
        let schedule = RetrySchedule.standard
        #expect(schedule.attempts == 8)
        #expect(schedule.delay(afterFailures: 0, random: 0.5) == .zero)
        #expect(schedule.delay(afterFailures: 1, random: 0) == .seconds(5))
        #expect(schedule.delay(afterFailures: 2, random: 1) == .seconds(330))
        #expect(schedule.delay(afterFailures: 2, random: -1) == .seconds(270))
        #expect(schedule.delay(afterFailures: 8) == nil)
        #expect(RetrySchedule(seconds: "0, 0.5, 2")?.delays == [.zero, .milliseconds(500), .seconds(2)])
        #expect(RetrySchedule(seconds: "1,x") == nil)
        #expect(RetrySchedule(seconds: "") == nil)
    }
}

@Suite("Webhook URL policy")
struct WebhookURLPolicyTests {
    /// Nothing resolves: only the URLs' text decides.
    struct NoAnswers: HostResolver {
        func addresses(of host: String) async -> [IPAddress] { [] }
    }

    @Test("loopback and private hosts are refused unless allowed; link-local (metadata) always; public URLs pass")
    func privateRanges() async {
        let strict = WebhookURLPolicy(allowPrivate: false, resolver: NoAnswers())
        let allowing = WebhookURLPolicy(allowPrivate: true, resolver: NoAnswers())
        for url in [
            "http://127.0.0.1/x", "http://localhost:8080/", "https://api.localhost/", "http://10.1.2.3/", "http://172.16.0.1/",
            "http://192.168.1.1/", "http://[::1]/", "http://[fd00::1]/", "http://[::ffff:10.0.0.1]/", "http://100.64.0.1/",
            "http://metadata.google.internal/",
        ] {
            #expect(await strict.refusal(creating: url) != nil, "\(url)")
            #expect(await allowing.refusal(creating: url) == nil, "\(url)")
        }
        for url in ["http://169.254.169.254/latest/meta-data", "http://[fe80::1]/", "http://0.0.0.0/", "http://[::]/"] {
            #expect(await allowing.refusal(creating: url) != nil, "\(url)")
        }
        for url in ["https://app.example.com/webhooks", "http://93.184.216.34/hook", "https://[2606:4700::1111]/"] {
            #expect(await strict.refusal(creating: url) == nil, "\(url)")
        }
        for url in ["ftp://example.com/", "example.com/hook", "https://user:pw@example.com/", "https:///path", ""] {
            #expect(await strict.refusal(creating: url) != nil, "\(url)")
        }
    }

    @Test("a refusal reads as the admin API's 400 says it, with an example for a URL that is not http(s)")
    func messages() async throws {
        let strict = WebhookURLPolicy(allowPrivate: false, resolver: NoAnswers())
        let scheme = try #require(await strict.refusal(creating: "ftp://example.com/"))
        #expect(WebhookURLPolicy.message(scheme) == "'url' must be an absolute http or https URL, e.g. \"https://app.example.com/webhooks/roster\".")
        let loopback = try #require(await strict.refusal(creating: "http://[::1]:8080/"))
        #expect(WebhookURLPolicy.message(loopback, subject: "--url") == "--url points at ::1 (a loopback address), which this server does not connect to.")
    }
}
