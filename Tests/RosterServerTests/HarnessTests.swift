import Hummingbird
import HummingbirdTesting
import Logging
import RosterTestSupport
import ServiceLifecycle
import Testing

/// The harness's own guarantees: a test application whose stop never finishes costs the run its grace, not the
/// run, without hiding the test's outcome; and `TestSlots` holds the number of applications at once to its limit.
@Suite("Test harness: bounded stops, bounded applications")
struct HarnessTests {
    /// Ignores the graceful shutdown it is asked for and is never cancelled: its stop never finishes, as the hung
    /// pool stops did (suspended for good, using no CPU).
    struct NeverStops: Service {
        func run() async throws {
            await withUnsafeContinuation { (_: UnsafeContinuation<Void, Never>) in }
        }
    }

    struct BodyFailed: Error {}

    static func application(stops: Bool) -> some ApplicationProtocol & Sendable {
        let router = Router()
        router.get("/ping") { _, _ in "pong" }
        let services: [any Service] = stops ? [] : [NeverStops()]
        return Application(router: router, services: services, logger: Logger(label: "harness-test"))
    }

    @Test(
        "the body's outcome stands and the run goes on: an application that stops returns at once, one whose stop never finishes is left behind after the grace",
        arguments: [(stops: true, grace: Duration.seconds(600)), (stops: false, grace: .milliseconds(300))])
    func boundedStop(stops: Bool, grace: Duration) async throws {
        let started = ContinuousClock.now
        try await testApplication(Self.application(stops: stops), .router, grace: grace) { client in
            try await client.execute(uri: "/ping", method: .get) { #expect($0.status == .ok) }
        }
        await #expect(throws: BodyFailed.self) {
            try await testApplication(Self.application(stops: stops), .router, grace: grace) { _ in throw BodyFailed() }
        }
        #expect(ContinuousClock.now - started < .seconds(30), "neither a prompt stop nor the grace bounded the wait")
    }

    @Test("TestSlots: twenty holders through three slots, never more than three at once, every one served")
    func slots() async throws {
        let slots = TestSlots(3)
        let counts = Tally()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    await slots.acquire()
                    await counts.enter()
                    try? await Task.sleep(for: .milliseconds(20))
                    await counts.leave()
                    await slots.release()
                }
            }
        }
        #expect(await counts.peak == 3)
        #expect(await counts.served == 20)
    }

    actor Tally {
        var now = 0, peak = 0, served = 0
        func enter() { now += 1; peak = max(peak, now) }
        func leave() { now -= 1; served += 1 }
    }
}
