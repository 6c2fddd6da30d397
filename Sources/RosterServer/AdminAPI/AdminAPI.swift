import Foundation

/// `/api/v1`, implemented against the interface generated from openapi.yaml: a route that is not in
/// the document cannot exist here. The generator makes one `APIProtocol` for every tag, so this type only
/// holds a handler per tag; each handler's file forwards its operations to it, and a route on the
/// credential's tenant and its `/api/v1/tenants/{tenant}/…` twin call one method (`tenant` nil: the credential's).
/// Errors are thrown as `AdminError` / `StoreError` and rendered once, by ErrorMiddleware, in the `Error`
/// shape every operation documents.
struct AdminAPI: APIProtocol {
    let tenants: TenantsHandler
    let scimTokens: ScimTokensHandler
    let adminKeys: AdminKeysHandler
    let directory: DirectoryHandler
    let feed: FeedHandler
    let webhooks: WebhooksHandler
    let audit: AuditHandler
    let adminUsers: AdminUsersHandler
    let auth: AuthHandler
    let rateLimits: RateLimitsHandler
    let config: ConfigHandler
    let provisioning: ProvisioningHandler
    let setup: SetupHandler
}
