public import Hummingbird
public import RosterAuth
public import RosterStore
import SCIM

/// The router's base context.
public struct RosterRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer's IP address, for audit entries and login throttling.
    public var sourceAddress: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        sourceAddress = source.channel.remoteAddress?.ipAddress
    }

    /// SCIM request bodies may be this large; above it, 413. Documented in docs/scim.md.
    public var maxUploadSize: Int { ScimLimits.maxRequestBytes }
}

/// Context of `/scim/v2` resource routes: the SCIM token that authenticated the request.
public struct ScimRequestContext: RequestContext {
    public typealias Source = RosterRequestContext
    public var coreContext: CoreRequestContextStorage
    public var principal: ScimPrincipal?

    /// Keeps the parent's core storage: the route parameters were resolved before the transform.
    public init(source: RosterRequestContext) {
        coreContext = source.coreContext
    }

    public var maxUploadSize: Int { ScimLimits.maxRequestBytes }

    /// The authenticated principal; the auth middleware guarantees it on every resource route.
    public func requirePrincipal() throws -> ScimPrincipal {
        guard let principal else { throw ScimAuthMiddleware.missingToken }
        return principal
    }
}

/// Context of `/api/v1` routes: the admin key that authenticated the request.
public struct AdminRequestContext: RequestContext {
    public typealias Source = RosterRequestContext
    public var coreContext: CoreRequestContextStorage
    public var principal: AdminPrincipal?
    /// The setup link of a setup-API request (which has no principal).
    public var setupLink: SetupLinkPrincipal?
    public var sourceAddress: String?

    /// Keeps the parent's core storage: the route parameters were resolved before the transform.
    public init(source: RosterRequestContext) {
        coreContext = source.coreContext
        sourceAddress = source.sourceAddress
    }

    public var maxUploadSize: Int { 64 * 1024 }
}

public enum ScimLimits {
    /// 16 MiB: room for a Group POST or PUT of 100 000 members (about 6 MiB as IdPs write them);
    /// also the `maxPayloadSize` Bulk advertises.
    public static let maxRequestBytes = BulkRequest.maxPayloadSize
}

extension ChangeContext {
    /// A SCIM request's change: its events name the token and share a new transaction id.
    init(_ principal: ScimPrincipal) {
        self.init(actor: .scimToken(principal.tokenID))
    }
}
