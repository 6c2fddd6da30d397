import AsyncHTTPClient
import Foundation
import JWTKit
import Logging
import NIOHTTP1
import RosterOutbound

/// Where an issuer's keys may come from: HTTPS, so nobody on the path can substitute keys; plain HTTP
/// only for a loopback host, and only when the operator says so (`roster dev`, tests). Every fetch goes
/// through the outbound policy, whose operator allowance (loopback, private networks) is the same switch.
struct JWKSURLPolicy: Sendable {
    let allowInsecureLoopback: Bool
    let outbound: OutboundPolicy

    init(allowInsecureLoopback: Bool, resolver: any HostResolver = SystemResolver()) {
        self.allowInsecureLoopback = allowInsecureLoopback
        outbound = OutboundPolicy(allowPrivate: allowInsecureLoopback, resolver: resolver)
    }

    /// What is wrong with `url` as a JWKS URL, as a sentence about 'jwksURL'; nil when it may be fetched
    /// (as far as its text tells: a host name is checked by its addresses at each fetch).
    func problem(with url: URL) -> String? {
        let checked: OutboundURL
        switch outbound.check(url.absoluteString) {
        case .failure(.notHTTP): return "'jwksURL' must be an absolute https URL, e.g. https://login.example.com/.well-known/jwks.json."
        case .failure(let refusal): return refusal.sentence(subject: "'jwksURL'")
        case .success(let url): checked = url
        }
        let loopback = checked.host.lowercased() == "localhost" || checked.literal?.addressClass.use == .loopback
        switch checked.scheme {
        case "https": return nil
        case "http" where allowInsecureLoopback && loopback: return nil
        case "http" where loopback:
            return "'jwksURL' uses plain http, which is allowed for a loopback host only when insecure loopback is enabled (roster dev)."
        default: return "'jwksURL' must use https (plain http only for a loopback host in development)."
        }
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

/// Fetches an issuer's JWKS over HTTPS through the outbound policy: no redirects, bounded in time and size.
struct JWKSFetcher: Sendable {
    static let timeout: Duration = .seconds(10)
    /// Real key sets are a few kilobytes; a larger answer is not a key set.
    static let maximumSize = 1 << 20

    let url: URL
    let policy: JWKSURLPolicy
    let algorithms: Set<JWSAlgorithm>
    let logger: Logger

    func fetch() async throws -> IssuerKeySet {
        if let problem = policy.problem(with: url) { throw TokenError.jwksUnavailable("\(url.absoluteString): \(problem)") }
        var request = HTTPClientRequest(url: url.absoluteString)
        request.headers.add(name: "accept", value: "application/jwk-set+json, application/json")
        let client = OutboundClient(policy: policy.outbound, timeout: Self.timeout, maximumResponseSize: Self.maximumSize, truncatesLargeResponses: false)
        let response: OutboundResponse
        do {
            response = try await client.execute(request, logger: logger)
        } catch .refused(let refusal) {
            throw TokenError.jwksUnavailable("\(url.absoluteString) is refused by the outbound policy: \(refusal.sentence(subject: "the URL"))")
        } catch {
            throw TokenError.jwksUnavailable("\(url.absoluteString) could not be fetched (\(error)).")
        }
        // A redirect is never followed: keys come from the URL the operator configured or not at all.
        guard response.status == 200 else {
            throw TokenError.jwksUnavailable("\(url.absoluteString) answered \(response.statusProblem ?? "HTTP \(response.status)").")
        }
        let keys: IssuerKeySet
        do {
            keys = try await IssuerKeySet(jwks: Data(response.body), accepting: algorithms)
        } catch {
            throw TokenError.jwksUnavailable("\(url.absoluteString) did not answer with a JWKS document.")
        }
        logger.debug("Fetched an issuer's signing keys", metadata: ["jwks_url": "\(url.absoluteString)", "keys": "\(keys.entries.count)"])
        return keys
    }
}
