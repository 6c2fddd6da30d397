import AsyncHTTPClient
import Foundation
import JWTKit
import Logging
import NIOCore

/// Where an issuer's keys may come from: HTTPS, so nobody on the path can substitute keys; plain HTTP
/// only for a loopback host, and only when the operator says so (`roster dev`, tests).
struct JWKSURLPolicy: Sendable {
    let allowInsecureLoopback: Bool

    /// What is wrong with `url` as a JWKS URL, completing "'jwksURL' …"; nil when it may be fetched.
    func problem(with url: URL) -> String? {
        guard let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty else {
            return "must be an absolute https URL, e.g. https://login.example.com/.well-known/jwks.json."
        }
        if url.user != nil || url.password != nil { return "must not carry credentials." }
        switch scheme {
        case "https": return nil
        case "http" where allowInsecureLoopback && Self.isLoopback(host): return nil
        case "http" where Self.isLoopback(host): return "uses plain http, which is allowed for a loopback host only when insecure loopback is enabled (roster dev)."
        default: return "must use https (plain http only for a loopback host in development)."
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        let name = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if name == "localhost" || name == "::1" { return true }
        let octets = name.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets.allSatisfy { UInt8($0) != nil } && octets[0] == "127"
    }
}

/// One issuer's verification keys, by kid and algorithm: a key is entered once for every accepted
/// algorithm its type allows (its own `alg` when the JWK names one), each in a collection of its own.
struct IssuerKeySet: Sendable {
    struct Entry: Sendable {
        let kid: String?
        let algorithm: JWSAlgorithm
        let keys: JWTKeyCollection
    }

    let entries: [Entry]

    /// The key for a token's kid and alg; a token without a kid may use the issuer's only key for that algorithm.
    func key(kid: String?, algorithm: JWSAlgorithm) -> JWTKeyCollection? {
        let candidates = entries.filter { $0.algorithm == algorithm }
        guard let kid else { return candidates.count == 1 ? candidates[0].keys : nil }
        return candidates.first { $0.kid == kid }?.keys
    }

    /// Reads a JWKS document, skipping keys that are not for signatures or that jwt-kit cannot read.
    init(jwks data: Data, accepting algorithms: Set<JWSAlgorithm>) async throws {
        let document = try JSONDecoder().decode(Document.self, from: data)
        var entries: [Entry] = []
        for candidate in document.keys {
            guard var jwk = candidate.jwk, candidate.use == nil || candidate.use == "sig" else { continue }
            // A JWKS is public: never hold private members an issuer published by mistake.
            jwk.privateExponent = nil
            jwk.prime1 = nil
            jwk.prime2 = nil
            let kid = jwk.keyIdentifier?.string
            for algorithm in algorithms.sorted(by: { $0.rawValue < $1.rawValue }) where Self.fits(jwk, algorithm) {
                jwk.algorithm = JWK.Algorithm(rawValue: algorithm.rawValue)
                jwk.keyIdentifier = JWKIdentifier(string: kid ?? "unnamed")
                let keys = JWTKeyCollection()
                guard (try? await keys.add(jwk: jwk)) != nil else { continue }
                entries.append(Entry(kid: kid, algorithm: algorithm, keys: keys))
            }
        }
        self.entries = entries
    }

    /// Whether `jwk` can verify `algorithm` (RFC 7518 §3.1 with RFC 8037 for EdDSA).
    static func fits(_ jwk: JWK, _ algorithm: JWSAlgorithm) -> Bool {
        if let own = jwk.algorithm, own.rawValue != algorithm.rawValue { return false }
        let curve = jwk.curve?.rawValue
        switch algorithm {
        case .rs256, .rs384, .rs512, .ps256, .ps384, .ps512: return jwk.keyType == .rsa
        case .es256: return jwk.keyType == .ecdsa && curve == "P-256"
        case .es384: return jwk.keyType == .ecdsa && curve == "P-384"
        case .es512: return jwk.keyType == .ecdsa && curve == "P-521"
        case .eddsa: return jwk.keyType == .octetKeyPair && curve == "Ed25519"
        default: return false
        }
    }

    /// `{"keys": [...]}`, each key decoded on its own so one unknown kind does not hide the rest.
    private struct Document: Decodable {
        struct Candidate: Decodable {
            let jwk: JWK?
            let use: String?

            private enum CodingKeys: String, CodingKey { case use }

            init(from decoder: any Decoder) throws {
                jwk = try? JWK(from: decoder)
                use = try? decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(String.self, forKey: .use)
            }
        }

        let keys: [Candidate]
    }
}

/// Fetches an issuer's JWKS over HTTPS with AsyncHTTPClient.
struct JWKSFetcher: Sendable {
    static let timeout: TimeAmount = .seconds(10)
    /// Real key sets are a few kilobytes; a larger answer is not a key set.
    static let maximumSize = 1 << 20

    let url: URL
    let policy: JWKSURLPolicy
    let algorithms: Set<JWSAlgorithm>
    let http: HTTPClient
    let logger: Logger

    func fetch() async throws -> IssuerKeySet {
        if let problem = policy.problem(with: url) { throw TokenError.jwksUnavailable("\(url.absoluteString) \(problem)") }
        var request = HTTPClientRequest(url: url.absoluteString)
        request.headers.add(name: "accept", value: "application/jwk-set+json, application/json")
        let body: ByteBuffer
        do {
            let response = try await http.execute(request, timeout: Self.timeout, logger: logger)
            // A redirect is followed only to a URL the policy allows: keys fetched over plain http are not trusted.
            if response.history.contains(where: { URL(string: $0.request.url).map(policy.problem(with:)) != .some(nil) }) {
                throw TokenError.jwksUnavailable("\(url.absoluteString) redirected to a URL that is not https.")
            }
            guard response.status == .ok else { throw TokenError.jwksUnavailable("\(url.absoluteString) answered HTTP \(response.status.code).") }
            body = try await response.body.collect(upTo: Self.maximumSize)
        } catch let error as TokenError {
            throw error
        } catch {
            throw TokenError.jwksUnavailable("\(url.absoluteString) could not be fetched (\(Self.describe(error))).")
        }
        let keys: IssuerKeySet
        do {
            keys = try await IssuerKeySet(jwks: Data(body.readableBytesView), accepting: algorithms)
        } catch {
            throw TokenError.jwksUnavailable("\(url.absoluteString) did not answer with a JWKS document.")
        }
        logger.debug("Fetched an issuer's signing keys", metadata: ["jwks_url": "\(url.absoluteString)", "keys": "\(keys.entries.count)"])
        return keys
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout: return "timed out"
            default: return "\(error)"
            }
        }
        if error is NIOTooManyBytesError { return "the answer is larger than \(maximumSize) bytes" }
        return "connection failed: \(error)"
    }
}
