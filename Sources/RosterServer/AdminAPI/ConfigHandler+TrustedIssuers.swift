import Foundation
import RosterAuth
import RosterStore
import SCIM

/// `/api/v1/config/trusted-issuers`: the OIDC issuers whose tokens the admin API accepts. Scope `*`: an issuer's
/// role mappings and directory tenants decide who is owner, so a holder of `config` alone must not replace them.
/// They are the `trusted_issuers` section of the runtime settings, and share their version (the ETag).
extension ConfigHandler {
    func getTrustedIssuers(_ input: Operations.GetTrustedIssuers.Input) async throws -> Operations.GetTrustedIssuers.Output {
        _ = try AuthenticatedAdmin.requireGlobal(.all)
        let current = try await storedSettings()
        return .ok(.init(headers: .init(eTag: Self.etag(current.version)), body: .json(.init(current))))
    }

    func replaceTrustedIssuers(_ input: Operations.ReplaceTrustedIssuers.Input) async throws -> Operations.ReplaceTrustedIssuers.Output {
        _ = try AuthenticatedAdmin.requireGlobal(.all)
        let expected = try Self.expectedVersions(input.headers.ifMatch)
        guard case .json(let body) = input.body else { throw AdminError.invalidRequest("The body must be JSON.") }
        let issuers = try body.trustedIssuers.map { try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode($0)) }
        let current = try await replaceSettings(ifMatch: expected) { stored in
            var document = stored
            // Null or left out: the section goes, and ROSTER_OIDC_ISSUERS applies again.
            document[RuntimeSettings.CodingKeys.trustedIssuers.rawValue] = issuers
            return document
        }
        return .ok(.init(headers: .init(eTag: Self.etag(current.version)), body: .json(.init(current))))
    }
}

extension AdminAPI {
    func getTrustedIssuers(_ input: Operations.GetTrustedIssuers.Input) async throws -> Operations.GetTrustedIssuers.Output {
        try await config.getTrustedIssuers(input)
    }

    func replaceTrustedIssuers(_ input: Operations.ReplaceTrustedIssuers.Input) async throws -> Operations.ReplaceTrustedIssuers.Output {
        try await config.replaceTrustedIssuers(input)
    }
}

/// The `TrustedIssuersUpdate` and `TrustedIssuersView` schemas (openapi-generator-config.yaml): the issuers, and in an
/// answer the settings' version and whether the database sets them (read-only: ignored in a PUT).
struct TrustedIssuersBody: Codable, Hashable, Sendable {
    var trustedIssuers: [TrustedIssuer]?
    var version: Int64?
    var overridden: Bool?

    enum CodingKeys: String, CodingKey {
        case trustedIssuers = "trusted_issuers"
        case version, overridden
    }

    init(_ current: CurrentSettings) {
        trustedIssuers = current.trustedIssuers
        version = current.version
        overridden = current.overridden.contains(CodingKeys.trustedIssuers.rawValue)
    }

    init(from decoder: any Decoder) throws {
        try RuntimeSettings.refuseUnknownKeys(in: decoder, known: Set(["trusted_issuers"]).union(RuntimeSettings.readOnlyKeys), section: nil)
        trustedIssuers = try RuntimeSettings.issuers(in: try decoder.container(keyedBy: CodingKeys.self), forKey: .trustedIssuers)
    }
}
