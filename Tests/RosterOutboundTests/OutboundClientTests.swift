import AsyncHTTPClient
import NIOCore
import RosterOutbound
import Testing

@Suite("Outbound policy: connections")
struct OutboundClientTests {
    static func client(_ policy: OutboundPolicy, timeout: Duration = .seconds(5), size: Int = 1024, truncates: Bool = true) -> OutboundClient {
        OutboundClient(policy: policy, connectTimeout: .seconds(1), timeout: timeout, maximumResponseSize: size, truncatesLargeResponses: truncates)
    }

    static func get(_ url: String) -> HTTPClientRequest { HTTPClientRequest(url: url) }

    @Test("a name answering one address when checked and another when connected never reaches the second: it is resolved once")
    func rebinding() async throws {
        // Tests talk to loopback only: the checked answer is 127.0.0.2 (allowed here, nothing listens there), the
        // rebound one 127.0.0.1, where the listener waits. A client that resolved again would reach the listener.
        try await LoopbackListener.run(answering: LoopbackListener.answer("204 No Content")) { listener in
            let resolver = RebindingResolver(first: "127.0.0.2", later: "127.0.0.1")
            let client = Self.client(OutboundPolicy(allowPrivate: true, resolver: resolver), timeout: .seconds(3))
            let result = await Result { () async throws(OutboundFailure) in try await client.execute(Self.get("http://rebind.test:\(listener.port)/hook")) }
            #expect(listener.accepts == 0, "no connection to loopback")
            #expect(resolver.questions == 1, "resolved once: the connection goes to the checked address, not to a second answer")
            if case .success(let response) = result { Issue.record("reached something: HTTP \(response.status)") }
        }
    }

    @Test("every connection checks again: a name that turns to loopback between two requests is refused the second time")
    func checkedEachTime() async throws {
        try await LoopbackListener.run(answering: LoopbackListener.answer("204 No Content")) { listener in
            // Allowed first (the operator allows loopback here), then rebinds to the metadata address, which nothing allows.
            let resolver = RebindingResolver(first: "127.0.0.1", later: "169.254.169.254")
            let client = Self.client(OutboundPolicy(allowPrivate: true, resolver: resolver))
            let first = try await client.execute(Self.get("http://hooks.test:\(listener.port)/hook"))
            #expect(first.status == 204)
            do throws(OutboundFailure) {
                _ = try await client.execute(Self.get("http://hooks.test:\(listener.port)/hook"))
                Issue.record("the second request was made")
            } catch {
                guard case .refused(.deniedAddress(let host, let address, let addressClass, _)) = error else {
                    Issue.record("\(error)")
                    return
                }
                #expect(host == "hooks.test" && address == IPAddress(standard: "169.254.169.254") && addressClass.use == .linkLocal)
            }
            #expect(listener.accepts == 1)
        }
    }

    @Test("the connection goes to the resolved address while the request keeps the host name (Host header; SNI for TLS)")
    func connectsToCheckedAddress() async throws {
        try await LoopbackListener.run(answering: LoopbackListener.answer("200 OK", body: Array("hello".utf8))) { listener in
            let policy = OutboundPolicy(allowPrivate: true, resolver: StubResolver(answers: ["receiver.test": ["127.0.0.1"]]))
            let response = try await Self.client(policy).execute(Self.get("http://receiver.test:\(listener.port)/in"))
            #expect(response.status == 200 && response.body == Array("hello".utf8) && !response.truncated)
            let head = try #require(listener.heads.first).lowercased()
            #expect(head.contains("host: receiver.test:\(listener.port)"), "\(head)")
        }
    }

    @Test("a redirect is never followed: the 3xx is the answer, and its target sees nothing")
    func redirects() async throws {
        try await LoopbackListener.run(answering: LoopbackListener.answer("204 No Content")) { target in
            let redirect = LoopbackListener.answer("302 Found", headers: ["location: http://127.0.0.1:\(target.port)/"])
            try await LoopbackListener.run(answering: redirect) { listener in
                let policy = OutboundPolicy(allowPrivate: true, resolver: StubResolver(answers: [:]))
                let response = try await Self.client(policy).execute(Self.get("http://127.0.0.1:\(listener.port)/"))
                #expect(response.status == 302)
                #expect(response.statusProblem == "HTTP 302: a redirect, which is not followed")
                #expect(target.accepts == 0)
            }
        }
    }

    @Test("the answer's size is bounded: cut at the limit, or refused when the caller needs all of it")
    func size() async throws {
        let large = [UInt8](repeating: 0x61, count: 200_000)
        try await LoopbackListener.run(answering: LoopbackListener.answer("200 OK", body: large)) { listener in
            let policy = OutboundPolicy(allowPrivate: true)
            let url = "http://127.0.0.1:\(listener.port)/"
            let cut = try await Self.client(policy, size: 65536).execute(Self.get(url))
            #expect(cut.body.count == 65536 && cut.truncated)
            do throws(OutboundFailure) {
                _ = try await Self.client(policy, size: 65536, truncates: false).execute(Self.get(url))
                Issue.record("a 200 000-byte answer was read whole")
            } catch {
                guard case .tooLarge(65536) = error else { Issue.record("\(error)"); return }
            }
        }
    }

    @Test("time is bounded: a receiver that never answers fails the request at the timeout")
    func timeout() async throws {
        try await LoopbackListener.run(answering: nil) { listener in
            let started = ContinuousClock.now
            do throws(OutboundFailure) {
                _ = try await Self.client(OutboundPolicy(allowPrivate: true), timeout: .seconds(1)).execute(Self.get("http://127.0.0.1:\(listener.port)/"))
                Issue.record("answered")
            } catch {
                guard case .timedOut = error else { Issue.record("\(error)"); return }
            }
            #expect(ContinuousClock.now - started < .seconds(4))
            #expect(listener.accepts == 1)
        }
    }

    @Test("a refused URL makes no connection, and a name that does not resolve fails with that reason")
    func refusedBeforeConnecting() async throws {
        try await LoopbackListener.run(answering: LoopbackListener.answer("204 No Content")) { listener in
            let strict = Self.client(OutboundPolicy(allowPrivate: false, resolver: StubResolver(answers: ["evil.test": ["127.0.0.1"]])))
            for url in ["http://127.0.0.1:\(listener.port)/", "http://[::ffff:127.0.0.1]:\(listener.port)/", "http://0x7f.1:\(listener.port)/",
                "http://2130706433:\(listener.port)/", "http://[0:0:0:0:0:0:0:1]:\(listener.port)/", "http://evil.test:\(listener.port)/",
                "http://localhost:\(listener.port)/"]
            {
                do throws(OutboundFailure) {
                    _ = try await strict.execute(Self.get(url))
                    Issue.record("\(url) was requested")
                } catch {
                    guard case .refused = error else { Issue.record("\(url): \(error)"); return }
                }
            }
            #expect(listener.accepts == 0)
            do throws(OutboundFailure) {
                _ = try await strict.execute(Self.get("http://nowhere.test/"))
            } catch {
                guard case .refused(.unresolvable("nowhere.test")) = error else { Issue.record("\(error)"); return }
            }
        }
    }
}

extension Result where Failure == OutboundFailure {
    init(catching body: () async throws(OutboundFailure) -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
