import Foundation
import HTTPTypes
import RosterAuth
import RosterStore
import SCIM

/// `/api/v1/config`: the runtime settings, versioned by an ETag. Scope `config` on every tenant: the
/// settings are global, so a grant on one tenant cannot change them. Trusted issuers are not among them
/// here: they decide who is owner, so only `*` replaces them (ConfigHandler+TrustedIssuers.swift).
struct ConfigHandler: Sendable {
    /// The runtime settings (GET/PUT /api/v1/config).
    let settings: RuntimeSettingsHolder

    func getConfig(_ input: Operations.GetConfig.Input) async throws -> Operations.GetConfig.Output {
        _ = try AuthenticatedAdmin.requireGlobal(.config)
        let current = try await storedSettings()
        return .ok(.init(headers: .init(eTag: Self.etag(current.version)), body: .json(.init(current))))
    }

    func replaceConfig(_ input: Operations.ReplaceConfig.Input) async throws -> Operations.ReplaceConfig.Output {
        _ = try AuthenticatedAdmin.requireGlobal(.config)
        let expected = try Self.expectedVersions(input.headers.ifMatch)
        guard case .json(let body) = input.body else { throw AdminError.invalidRequest("The body must be JSON.") }
        let sections = try Self.json(body.settings)
        let current = try await replaceSettings(ifMatch: expected) { stored in
            var document = sections
            document[RuntimeSettings.CodingKeys.trustedIssuers.rawValue] = stored[RuntimeSettings.CodingKeys.trustedIssuers.rawValue]
            return document
        }
        return .ok(.init(headers: .init(eTag: Self.etag(current.version)), body: .json(.init(current))))
    }

    /// The settings the database holds now, applied here: their version is the ETag a PUT's If-Match is compared with.
    func storedSettings() async throws -> CurrentSettings {
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
        return current
    }

    /// Replaces the stored document with `edit` of it when its version is one `ifMatch` names (nil: any), checked in
    /// full (the verifier built) before anything is written, so the database never holds what a replica refuses.
    func replaceSettings(
        ifMatch expected: [Int64]?, edit: ([String: JSONValue]) throws -> [String: JSONValue]
    ) async throws -> CurrentSettings {
        // With If-Match: * another PUT landing between the read and the write is edited again, not reported.
        for _ in 0..<3 {
            let stored = try await settings.repository.current()
            if let expected, !expected.contains(stored.version) { throw Self.settingsChanged }
            let document = try edit(stored.document)
            let decoded = try JSONDecoder().decode(RuntimeSettings.self, from: JSONValue.object(document).encoded())
            var checked = try CurrentSettings(decoded, version: 0, baseline: settings.baseline, previous: settings.current)
            guard let written = try await settings.repository.replace(document, ifVersion: stored.version, by: AuthenticatedAdmin.auditContext()) else {
                if expected == nil { continue }
                throw Self.settingsChanged
            }
            checked.version = written.version
            settings.apply(checked)
            return checked
        }
        throw Self.settingsChanged
    }

    static var settingsChanged: AdminError {
        AdminError(
            status: .preconditionFailed, code: "precondition_failed",
            message: "The settings changed since the version If-Match names; GET them again and send the new ETag.")
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

extension AdminAPI {
    func getConfig(_ input: Operations.GetConfig.Input) async throws -> Operations.GetConfig.Output {
        try await config.getConfig(input)
    }

    func replaceConfig(_ input: Operations.ReplaceConfig.Input) async throws -> Operations.ReplaceConfig.Output {
        try await config.replaceConfig(input)
    }
}

/// The `RuntimeSettingsUpdate` schema (openapi-generator-config.yaml puts it in place of the generated type): the
/// runtime settings but `trusted_issuers`, which is refused by name rather than silently kept.
struct ConfigUpdateBody: Codable, Hashable, Sendable {
    var settings: RuntimeSettings

    init(from decoder: any Decoder) throws {
        let issuers = RuntimeSettings.AnyKey(stringValue: RuntimeSettings.CodingKeys.trustedIssuers.rawValue)
        if let container = try? decoder.container(keyedBy: RuntimeSettings.AnyKey.self), container.contains(issuers) {
            throw AdminError.invalidRequest(
                "'trusted_issuers' is not set here: trusted issuers decide who is owner, so they are replaced at PUT /api/v1/config/trusted-issuers, which needs the '*' scope.")
        }
        settings = try RuntimeSettings(from: decoder)
    }

    func encode(to encoder: any Encoder) throws {
        try settings.encode(to: encoder)
    }
}

/// The `RuntimeSettingsView` schema (openapi-generator-config.yaml puts it in place of the generated type):
/// every section as it holds now but the trusted issuers, its version and the sections the database sets.
struct CurrentSettingsBody: Codable, Hashable, Sendable {
    var settings: RuntimeSettings
    var version: Int64
    var overridden: [String]

    init(_ current: CurrentSettings) {
        settings = current.document
        settings.trustedIssuers = nil
        version = current.version
        overridden = current.overridden.filter { $0 != RuntimeSettings.CodingKeys.trustedIssuers.rawValue }
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
