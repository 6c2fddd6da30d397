public import Foundation
import PostgresNIO
public import SCIM

/// The runtime settings document as stored (0012_runtime_settings.sql): a JSON object whose top-level
/// keys are sections, and its version (0 until the first replace).
public struct StoredSettings: Sendable, Equatable {
    public var document: [String: JSONValue]
    public var version: Int64
    public var updated: Date

    public init(document: [String: JSONValue], version: Int64, updated: Date) {
        self.document = document
        self.version = version
        self.updated = updated
    }
}

/// The one global row of runtime settings. The store knows the document only as JSON: its sections
/// and their rules belong to the server; the store guards versions and writes the audit entry.
public struct RuntimeSettingsRepository: Sendable {
    let database: RosterDatabase

    public init(database: RosterDatabase) {
        self.database = database
    }

    public func current() async throws -> StoredSettings {
        guard let settings = try Self.decode(await database.query("SELECT document, version, updated FROM runtime_settings WHERE id")) else {
            throw StoreError.unavailable("runtime_settings has no row (migration 0012 not applied?)")
        }
        return settings
    }

    /// The settings when their version is no longer `version`; nil when it still is (a replica's poll: one row, no document sent).
    public func changed(since version: Int64) async throws -> StoredSettings? {
        let rows = try await database.query(
            "SELECT document, version, updated FROM runtime_settings WHERE id AND version <> \(version)")
        return try Self.decode(rows)
    }

    /// Replaces the document when its version is `ifVersion` (nil: whatever it is), adding 1 to the version,
    /// with a `config.updated` audit entry in the same statement; nil when the version had moved on (nothing written).
    /// The entry's details: the top-level sections that changed, the new version, and for a changed
    /// `trusted_issuers` the issuers' `issuer` URLs only.
    public func replace(_ document: [String: JSONValue], ifVersion: Int64?, by context: AuditContext) async throws -> StoredSettings? {
        let rows = try await database.query(
            """
            WITH previous AS (
                SELECT document FROM runtime_settings WHERE id AND (\(ifVersion)::bigint IS NULL OR version = \(ifVersion)) FOR UPDATE),
            settings AS (
                UPDATE runtime_settings s SET document = \(ResourceBody(document)), version = s.version + 1, updated = now()
                FROM previous WHERE s.id
                RETURNING s.document, s.version, s.updated, previous.document AS previous),
            changed AS (
                SELECT coalesce(jsonb_agg(key ORDER BY key), '[]') AS sections FROM settings,
                    LATERAL (SELECT key FROM jsonb_object_keys(settings.document || settings.previous) AS key
                             WHERE settings.document -> key IS DISTINCT FROM settings.previous -> key) k),
            audit AS (\(audit: .configUpdated, by: context, from: "settings, changed", tenant: "NULL::uuid", target: "NULL::uuid",
                          details: Self.auditDetails))
            SELECT document, version, updated FROM settings
            """)
        return try Self.decode(rows)
    }

    /// Never a whole issuer: its `issuer` URL says which one changed, and nothing else is needed to tell.
    static let auditDetails = """
        jsonb_build_object('sections', changed.sections, 'version', settings.version) ||
        CASE WHEN changed.sections ? 'trusted_issuers' THEN jsonb_build_object('trusted_issuers',
            coalesce((SELECT jsonb_agg(i -> 'issuer') FROM jsonb_array_elements(
                CASE jsonb_typeof(settings.document -> 'trusted_issuers') WHEN 'array' THEN settings.document -> 'trusted_issuers' ELSE '[]' END) AS i),
                '[]')) ELSE '{}' END
        """

    static func decode(_ rows: [PostgresRow]) throws -> StoredSettings? {
        try rows.first.map { row in
            let (document, version, updated) = try row.decode((ResourceBody, Int64, Date).self)
            return StoredSettings(document: document.object, version: version, updated: updated)
        }
    }
}
