import Foundation
import Hummingbird
import RosterStore
import SCIM

/// `/api/v1`: tenants and SCIM tokens. Routes act on the key's tenant (the `default` tenant for a
/// global key) unless the path names one; a tenant-bound key never reaches another tenant.
struct AdminController {
    let tenants: TenantRepository
    let tokens: ScimTokenRepository
    let scimBaseURL: String

    func addRoutes(to group: RouterGroup<AdminRequestContext>) {
        group.get("tenants", use: listTenants)
        group.post("tenants", use: createTenant)
        group.get("tenants/:tenant", use: getTenant)
        for prefix in ["scim/tokens", "tenants/:tenant/scim/tokens"] {
            group.get(RouterPath(prefix), use: listTokens)
            group.post(RouterPath(prefix), use: createToken)
            group.delete(RouterPath(prefix + "/:id"), use: revokeToken)
        }
    }

    // MARK: Tenants

    @Sendable func listTenants(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let principal = try context.require(.tenants)
        let all = try await tenants.list()
        let visible = all.filter { principal.tenantID == nil || $0.id == principal.tenantID }
        return AdminResponse.json(.ok, ["data": .array(visible.map(Self.json))])
    }

    @Sendable func createTenant(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let principal = try context.require(.tenants)
        guard principal.isGlobal else { throw AdminError.forbidden("Only a global admin key can create tenants.") }
        let body = try await Self.object(request, context: context)
        guard let name = body["name"]?.stringValue, TenantRepository.isValidName(name) else {
            throw AdminError.invalidRequest("'name' is required: lowercase letters, digits and '-', at most 63 characters, e.g. \"acme\".")
        }
        let tenant = try await tenants.create(name: name)
        return AdminResponse.json(.created, Self.json(tenant))
    }

    @Sendable func getTenant(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let principal = try context.require(.tenants)
        return AdminResponse.json(.ok, Self.json(try await tenant(context, principal)))
    }

    // MARK: SCIM tokens

    @Sendable func listTokens(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let principal = try context.require(.scimTokens)
        let tenant = try await tenant(context, principal)
        let records = try await tokens.list(tenant: tenant.id)
        return AdminResponse.json(.ok, ["data": .array(records.map(Self.json))])
    }

    @Sendable func createToken(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let principal = try context.require(.scimTokens)
        let tenant = try await tenant(context, principal)
        let body = try await Self.object(request, context: context)
        guard let name = body["name"]?.stringValue, !name.trimmingCharacters(in: .whitespaces).isEmpty, name.count <= 200 else {
            throw AdminError.invalidRequest("'name' is required, e.g. \"Entra ID production\".")
        }
        var expires: Date?
        if let value = body["expires_at"], !value.isNull {
            guard let text = value.stringValue, let date = SCIMDate.parse(text), date > Date() else {
                throw AdminError.invalidRequest("'expires_at' must be a future RFC 3339 date-time, e.g. \"2027-01-01T00:00:00Z\".")
            }
            expires = date
        }
        let (record, secret) = try await tokens.create(tenant: tenant.id, name: name, expires: expires)
        guard case .object(var json) = Self.json(record) else { preconditionFailure("token JSON is an object") }
        json["token"] = .string(secret.reveal())
        json["scim_base_url"] = .string(scimBaseURL)
        return AdminResponse.json(.created, .object(json))
    }

    @Sendable func revokeToken(_ request: Request, context: AdminRequestContext) async throws -> Response {
        let principal = try context.require(.scimTokens)
        let tenant = try await tenant(context, principal)
        guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)),
            let record = try await tokens.revoke(tenant: tenant.id, id: id)
        else { throw AdminError.notFound("No such SCIM token in tenant '\(tenant.name)'.") }
        return AdminResponse.json(.ok, Self.json(record))
    }

    // MARK: Helpers

    /// The tenant a route acts on: the one named in the path, else the key's own, else `default`.
    private func tenant(_ context: AdminRequestContext, _ principal: AdminPrincipal) async throws -> Tenant {
        if let reference = context.parameters.get("tenant") {
            guard let tenant = try await tenants.find(reference) else {
                throw AdminError.notFound("No tenant '\(reference)'.")
            }
            if let bound = principal.tenantID, bound != tenant.id {
                throw AdminError.forbidden("This admin key is bound to another tenant.")
            }
            return tenant
        }
        let reference = principal.tenantID?.uuidString ?? TenantRepository.defaultName
        guard let tenant = try await tenants.find(reference) else { throw AdminError.notFound("No tenant '\(reference)'.") }
        return tenant
    }

    private static func object(_ request: Request, context: AdminRequestContext) async throws -> [String: JSONValue] {
        let buffer = try await request.body.collect(upTo: context.maxUploadSize)
        guard let value = try? JSONValue.parse(buffer.readableBytesView), case .object(let object) = value else {
            throw AdminError.invalidRequest("The request body must be a JSON object.")
        }
        return object
    }

    static func json(_ tenant: Tenant) -> JSONValue {
        ["id": .string(tenant.id.uuidString.lowercased()), "name": .string(tenant.name), "created": .string(SCIMDate.format(tenant.created))]
    }

    static func json(_ token: ScimTokenRecord) -> JSONValue {
        func date(_ date: Date?) -> JSONValue { date.map { .string(SCIMDate.format($0)) } ?? .null }
        return [
            "id": .string(token.id.uuidString.lowercased()),
            "tenant_id": .string(token.tenantID.uuidString.lowercased()),
            "name": .string(token.name),
            "prefix": .string(token.prefix),
            "created": date(token.created),
            "last_used": date(token.lastUsed),
            "expires_at": date(token.expires),
            "revoked": date(token.revoked),
        ]
    }
}
