import Foundation
import HTTPTypes
import RosterFeed
import RosterOutbound
import RosterServer
import RosterStore
import RosterTestSupport
import SCIM
import Testing

/// A resolver with fixed answers, so a test decides what a name stands for.
struct FixedResolver: HostResolver {
    var answers: [String: [String]]

    func addresses(of host: String) async -> [IPAddress] {
        (answers[host.lowercased()] ?? []).compactMap { IPAddress(standard: $0) }
    }
}

extension ServerSuite {
    @Suite("Outbound policy: webhook URLs and deliveries")
    struct OutboundPolicyTests {
        /// Hosts that are loopback, private or metadata addresses in spellings the old text check let through.
        static let literalSpellings = [
            "http://0x7f.1/hook", "http://2130706433/hook", "http://017700000001/hook", "http://0177.0.0.1/hook", "http://127.1/hook",
            "http://0xa9fea9fe/latest/meta-data", "http://[0:0:0:0:0:0:0:1]/hook", "http://[64:ff9b::7f00:1]/hook",
            "http://[2002:7f00:1::]/hook", "http://[::ffff:7f00:1]/hook", "http://[::127.0.0.1]/hook", "http://[fe80::1%25eth0]/hook",
        ]

        @Test("a webhook URL whose host is a loopback, private or metadata address in any spelling is a 400 at create and change")
        func literalSpellingsRefused() async throws {
            try await Roster.run(configure: WebhookAdminTests.adminOnly) { roster in
                let id = try #require(try await WebhookAdminTests.create(roster).json["id"]?.stringValue)
                for url in Self.literalSpellings {
                    let created = try await roster.admin(.post, "/webhooks", body: #"{"url":"\#(url)"}"#)
                    created.expectAdminError(.badRequest)
                    #expect(created.json["error"]?["message"]?.stringValue?.hasPrefix("'url' ") == true, "\(url): \(created.body)")
                    try await roster.admin(.patch, "/webhooks/\(id)", body: #"{"url":"\#(url)"}"#).expectAdminError(.badRequest)
                }
                #expect(try await roster.admin(.get, "/webhooks").json["data"]?.arrayValue?.count == 1, "nothing refused was stored")
                #expect(try await roster.admin(.get, "/webhooks/\(id)").json["url"] == .string(WebhookAdminTests.receiver))
            }
        }

        @Test("a name that resolves to a denied address is a 400 naming the name, the address and the range; a public one is stored")
        func resolvedNamesRefused() async throws {
            let resolver = FixedResolver(answers: [
                "rebind.example.com": ["127.0.0.1"], "meta.example.com": ["169.254.169.254"], "hooks.example.com": ["93.184.216.34"],
                "half.example.com": ["93.184.216.34", "10.0.0.7"],
            ])
            try await Roster.run(configure: {
                WebhookAdminTests.adminOnly(&$0)
                $0.webhooks.urlPolicy = WebhookURLPolicy(allowPrivate: false, resolver: resolver)
            }) { roster in
                let refused = try await roster.admin(.post, "/webhooks", body: #"{"url":"https://rebind.example.com/hook"}"#)
                refused.expectAdminError(.badRequest)
                #expect(
                    refused.json["error"]?["message"]?.stringValue
                        == "'url' names 'rebind.example.com', which resolves to 127.0.0.1 (a loopback address), which this server does not connect to.")
                let half = try await roster.admin(.post, "/webhooks", body: #"{"url":"https://half.example.com/hook"}"#)
                half.expectAdminError(.badRequest)
                #expect(half.json["error"]?["message"]?.stringValue?.contains("10.0.0.7 (a private-network address)") == true, "\(half.body)")
                let id = try #require(try await WebhookAdminTests.create(roster).json["id"]?.stringValue)
                let moved = try await roster.admin(.patch, "/webhooks/\(id)", body: #"{"url":"https://meta.example.com/x"}"#)
                moved.expectAdminError(.badRequest)
                #expect(moved.json["error"]?["message"]?.stringValue?.contains("169.254.169.254 (a link-local address") == true, "\(moved.body)")
                #expect(try await roster.admin(.get, "/webhooks").json["data"]?.arrayValue?.count == 1)
            }
        }

        @Test("a stored URL that points at loopback is refused at every connection: the test send and deliveries log it, the receiver sees nothing")
        func refusedAtConnection() async throws {
            try await WebhookReceiver.run(host: "::1") { receiver, url in
                // The receiver listens on ::1; the URL spells it out in full, which the old text check took for public.
                let spelled = url.replacingOccurrences(of: "[::1]", with: "[0:0:0:0:0:0:0:1]")
                try await Roster.run(configure: {
                    WebhookDeliveryTests.fast(&$0)
                    $0.webhooks.urlPolicy = WebhookURLPolicy(allowPrivate: false)
                }) { roster in
                    // Stored past the API's check, as a row written before this policy would be.
                    let (subscription, _) = try await WebhookDeliveryTests.subscribe(roster, url: spelled)
                    let test = try await roster.admin(.post, "/webhooks/\(subscription.id.uuidString.lowercased())/test")
                    #expect(test.status == .ok, "\(test.body)")
                    #expect(test.json["outcome"] == "failed")
                    #expect(test.json["error"]?.stringValue?.contains("loopback") == true, "\(test.body)")
                    _ = try await roster.createUser("alice")
                    let (_, deliveries) = try await WebhookDeliveryTests.subscription(roster, subscription.id) { $0.1.count >= 2 }
                    #expect(deliveries.count >= 2 && deliveries.allSatisfy { $0.outcome != .succeeded && $0.error?.contains("loopback") == true })
                    #expect(await receiver.received.isEmpty, "no request reached the loopback receiver")
                }
            }
        }
    }
}
