import Hummingbird
import SCIM

/// RFC 7644 §4: `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`, answered without a token.
struct DiscoveryController {
    let discovery: Discovery
    /// The page sizes ServiceProviderConfig states are the runtime settings' current ones.
    let settings: RuntimeSettingsHolder

    func addRoutes<Context: RequestContext>(to group: RouterGroup<Context>) {
        for path in ["ServiceProviderConfig", "ResourceTypes", "ResourceTypes/:name", "Schemas", "Schemas/:urn"] {
            ScimController.refuse([.post, .put, .patch, .delete], on: path, in: group)
        }
        group.get("ServiceProviderConfig") { request, _ in
            try Self.rejectFilter(request)
            return ScimResponse.json(.ok, discovery.serviceProviderConfig(pageSizes: settings.pageSizes))
        }
        group.get("ResourceTypes") { request, _ in
            try Self.rejectFilter(request)
            let types = discovery.registry.resourceTypes.map(discovery.resourceType)
            return ScimResponse.json(.ok, ListResponse(totalResults: types.count, startIndex: 1, resources: types).body)
        }
        group.get("ResourceTypes/:name") { _, context in
            let name = context.parameters.get("name") ?? ""
            guard let type = discovery.registry.resourceTypes.first(where: { $0.name == name }) else {
                throw ScimError.notFound("Resource type \(name) not found.")
            }
            return ScimResponse.json(.ok, discovery.resourceType(type))
        }
        group.get("Schemas") { request, _ in
            try Self.rejectFilter(request)
            let schemas = discovery.registry.schemas.map(discovery.schema)
            return ScimResponse.json(.ok, ListResponse(totalResults: schemas.count, startIndex: 1, resources: schemas).body)
        }
        group.get("Schemas/:urn") { _, context in
            let urn = context.parameters.get("urn") ?? ""
            guard let schema = discovery.registry.schema(urn: urn) else {
                throw ScimError.notFound("Schema \(urn) not found.")
            }
            return ScimResponse.json(.ok, discovery.schema(schema))
        }
    }

    /// RFC 7644 §4: discovery endpoints do not filter; a filter SHOULD get 403.
    private static func rejectFilter(_ request: Request) throws {
        if request.uri.queryParameters.get("filter") != nil {
            throw ScimError.forbidden("Discovery endpoints do not support filtering.")
        }
    }
}
