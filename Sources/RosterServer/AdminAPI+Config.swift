import Foundation
import HTTPTypes
import RosterStore
import SCIM

/// `/api/v1/config`: the runtime settings, versioned by an ETag. Scope `config` on every tenant: the
/// settings are global, so a grant on one tenant cannot change them.
extension AdminAPI {
    func getConfig(_ input: Operations.GetConfig.Input) async throws -> Operations.GetConfig.Output {
        _ = try Self.requireGlobal(.config)
        // From the database, not this replica's copy: the ETag must be the one a PUT's If-Match is compared with.
        let stored = try await settings.repository.current()
        let current: CurrentSettings
        do {
            current = try settings.resolve(stored)
        } catch let error as AdminError {
            // Only when replicas' process configurations differ (insecure loopback JWKS): not the client's fault,
            // and another replica can answer, so 503 (documented) rather than a 500.
            throw AdminError(
                status: .serviceUnavailable, code: "unavailable",
                message: "This replica cannot apply the stored settings (version \(stored.version)): \(error.message)")
        }
        settings.apply(current)
        return .ok(.init(headers: .init(eTag: Self.etag(current.version)), body: .json(.init(current))))
    }

    func replaceConfig(_ input: Operations.ReplaceConfig.Input) async throws -> Operations.ReplaceConfig.Output {
        _ = try Self.requireGlobal(.config)
        var expected = try Self.expectedVersions(input.headers.ifMatch)
        guard case .json(let document) = input.body else { throw AdminError.invalidRequest("The body must be JSON.") }
        // Checked in full (the verifier built) before anything is written, so the database never holds what a replica refuses.
        let checked = try CurrentSettings(document, version: 0, baseline: settings.baseline, previous: settings.current)
        if let versions = expected, versions.count > 1 {
            // Several tags: whichever is current now; the replace still fails if it moves on meanwhile.
            let now = try await settings.repository.current().version
            expected = versions.contains(now) ? [now] : []
        }
        guard let stored = try await settings.repository.replace(
            try Self.json(document), ifVersion: expected.map { $0.first ?? -1 }, by: AuthenticatedAdmin.auditContext())
        else {
            throw AdminError(
                status: .preconditionFailed, code: "precondition_failed",
                message: "The settings changed since the version If-Match names; GET them again and send the new ETag.")
        }
        var current = checked
        current.version = stored.version
        settings.apply(current)
        return .ok(.init(headers: .init(eTag: Self.etag(current.version)), body: .json(.init(current))))
    }

    /// RFC 9110 §8.8.3: a strong entity tag, the version in quotes.
    static func etag(_ version: Int64) -> String { "\"\(version)\"" }

    /// The versions `If-Match` accepts (empty: none can match); nil for `*`, whatever is current.
    /// RFC 9110 §13.1.1: strong comparison, so a weak tag matches nothing.
    static func expectedVersions(_ header: String?) throws -> [Int64]? {
        guard let header, !header.trimmingCharacters(in: .whitespaces).isEmpty else {
            // RFC 6585 §3: the server requires a conditional request, so that no PUT silently undoes another.
            throw AdminError(
                status: .init(code: 428), code: "precondition_required",
                message: "Send If-Match with the ETag of the settings you are replacing (GET /api/v1/config), or If-Match: * to replace whatever is there.")
        }
        let tags = header.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        if tags.contains("*") { return nil }
        return tags.compactMap { tag -> Int64? in
            guard tag.count >= 2, tag.hasPrefix("\""), tag.hasSuffix("\"") else { return nil }
            return Int64(tag.dropFirst().dropLast())
        }
    }

    static func json(_ document: RuntimeSettings) throws -> [String: JSONValue] {
        let data = try JSONEncoder().encode(document)
        return try JSONDecoder().decode([String: JSONValue].self, from: data)
    }
}

/// The `RuntimeSettingsView` schema (openapi-generator-config.yaml puts it in place of the generated type):
/// every section as it holds now, its version and the sections the database sets.
struct CurrentSettingsBody: Codable, Hashable, Sendable {
    var settings: RuntimeSettings
    var version: Int64
    var overridden: [String]

    init(_ current: CurrentSettings) {
        settings = current.document
        version = current.version
        overridden = current.overridden
    }

    enum CodingKeys: String, CodingKey {
        case version, overridden
    }

    init(from decoder: any Decoder) throws {
        settings = try RuntimeSettings(from: decoder)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        version = try container.decode(Int64.self, forKey: .version)
        overridden = try container.decode([String].self, forKey: .overridden)
    }

    func encode(to encoder: any Encoder) throws {
        try settings.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(version, forKey: .version)
        try container.encode(overridden, forKey: .overridden)
    }
}
