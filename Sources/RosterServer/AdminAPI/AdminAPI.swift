import Foundation
import RosterFeed
import RosterStore
import SCIM

/// `/api/v1`, implemented against the interface generated from openapi.yaml: a route that is not in
/// the document cannot exist here. Errors are thrown as `AdminError` / `StoreError` and rendered once,
/// by ErrorMiddleware, in the `Error` shape every operation documents.
struct AdminAPI: APIProtocol {
    let tenants: TenantRepository
    let tokens: ScimTokenRepository
    let keys: AdminKeyRepository
    let groups: GroupRepository
    let events: EventLog
    let audit: AuditLog
    let webhooks: WebhookSubscriptions
    let webhookPolicy: WebhookURLPolicy
    /// How long a test event waits for the receiver.
    let webhookTimeout: Duration
    /// How long a rotated-out webhook secret keeps signing.
    let webhookSecretOverlap: Duration
    /// Whether this process runs the webhook dispatcher.
    let dispatcher: Bool
    let scimBaseURL: String
    let identity: AdminIdentity
    /// Overrides change here, then apply at once in this process (others re-read them within seconds).
    let rateLimits: RateLimits
    /// The runtime settings (GET/PUT /api/v1/config).
    let settings: RuntimeSettingsHolder

    // MARK: Tenants

    func listTenants(_ input: Operations.ListTenants.Input) async throws -> Operations.ListTenants.Output {
        let principal = try AuthenticatedAdmin.require(.tenants)
        let visible = try await tenants.list().filter { principal.allows(.tenants, in: $0.id) }
        return .ok(.init(body: .json(.init(data: visible.map(Components.Schemas.Tenant.init)))))
    }

    func createTenant(_ input: Operations.CreateTenant.Input) async throws -> Operations.CreateTenant.Output {
        let principal = try AuthenticatedAdmin.require(.tenants)
        guard principal.allowsGlobally(.tenants) else {
            throw AdminError.forbidden("Creating a tenant needs the 'tenants' scope on every tenant (a global grant).")
        }
        guard case .json(let body) = input.body, TenantRepository.isValidName(body.name) else {
            throw AdminError.invalidRequest("'name' is required: lowercase letters, digits and '-', at most 63 characters, e.g. \"acme\".")
        }
        let tenant = try await tenants.create(name: body.name, by: AuthenticatedAdmin.auditContext())
        return .created(.init(body: .json(.init(tenant))))
    }

    func getTenant(_ input: Operations.GetTenant.Input) async throws -> Operations.GetTenant.Output {
        let principal = try AuthenticatedAdmin.require(.tenants)
        return .ok(.init(body: .json(.init(try await tenants.tenant(named: input.path.tenant, for: principal, scope: .tenants)))))
    }

    /// Only an owner marks the operator's directory: its groups' grants reach every tenant.
    func updateTenant(_ input: Operations.UpdateTenant.Input) async throws -> Operations.UpdateTenant.Output {
        let principal = try AuthenticatedAdmin.requireGlobal(.all)
        guard case .json(let body) = input.body else { throw AdminError.invalidRequest("The body must be JSON.") }
        let found = try await tenants.tenant(named: input.path.tenant, for: principal, scope: .all)
        guard let tenant = try await tenants.setOperatorDirectory(body.operatorDirectory, tenant: found.id, by: AuthenticatedAdmin.auditContext())
        else { throw AdminError.notFound("No tenant '\(input.path.tenant)'.") }
        identity.cache.invalidate()
        return .ok(.init(body: .json(.init(tenant))))
    }
}
