import Foundation
import HTTPTypes
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("Discovery and health")
    struct DiscoveryTests {
        @Test("ServiceProviderConfig answers without a token and advertises only what works")
        func serviceProviderConfig() async throws {
            try await Roster.run { roster in
                let reply = try await roster.send(.get, "/scim/v2/ServiceProviderConfig")
                #expect(reply.status == .ok)
                #expect(reply.headers[.contentType] == "application/scim+json")
                let config = reply.json
                #expect(config["patch"]?["supported"] == true)
                #expect(config["bulk"]?["supported"] == true)
                #expect(config["sort"]?["supported"] == true)
                #expect(config["etag"]?["supported"] == true)
                #expect(config["changePassword"]?["supported"] == false)
                #expect(config["filter"]?["supported"] == true)
                #expect(config["filter"]?["maxResults"] == .integer(Pagination.maximumCount))
                #expect(config["authenticationSchemes"]?[0]?["type"] == "oauthbearertoken")
            }
        }

        @Test("ResourceTypes lists User (with the enterprise extension) and Group")
        func resourceTypes() async throws {
            try await Roster.run { roster in
                let list = try await roster.send(.get, "/scim/v2/ResourceTypes")
                #expect(list.json["totalResults"] == 2)
                let user = try await roster.send(.get, "/scim/v2/ResourceTypes/User")
                #expect(user.json["endpoint"] == "/Users")
                #expect(user.json["schemaExtensions"]?[0]?["schema"] == "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
                #expect(try await roster.send(.get, "/scim/v2/ResourceTypes/Group").json["schema"] == "urn:ietf:params:scim:schemas:core:2.0:Group")
                try await roster.send(.get, "/scim/v2/ResourceTypes/Nope").expectScimError(.notFound)
            }
        }

        @Test("Schemas serves the schema documents, each by its URN")
        func schemas() async throws {
            try await Roster.run { roster in
                let list = try await roster.send(.get, "/scim/v2/Schemas")
                #expect(list.json["totalResults"] == 3)
                let user = try await roster.send(.get, "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
                #expect(user.status == .ok)
                let userName = user.json["attributes"]?.arrayValue?.first { $0["name"] == "userName" }
                #expect(userName?["uniqueness"] == "server")
                #expect(userName?["required"] == true)
                try await roster.send(.get, "/scim/v2/Schemas/urn:nope").expectScimError(.notFound)
            }
        }

        @Test("discovery endpoints refuse filters with 403")
        func discoveryFilter() async throws {
            try await Roster.run { roster in
                try await roster.send(.get, "/scim/v2/Schemas?filter=" + #"id eq "x""#.urlQueryEncoded).expectScimError(.forbidden)
            }
        }

        @Test("unknown SCIM routes get a SCIM 404, unknown admin routes a JSON 404")
        func unknownRoutes() async throws {
            try await Roster.run { roster in
                try await roster.send(.get, "/scim/v2/Nope").expectScimError(.notFound)
                try await roster.admin(.get, "/nope").expectAdminError(.notFound)
            }
        }

        @Test("health reports the database and current migrations; live needs no database")
        func health() async throws {
            try await Roster.run { roster in
                let reply = try await roster.send(.get, "/api/health")
                #expect(reply.status == .ok, "\(reply.body)")
                #expect(reply.json["status"] == "ok")
                #expect(reply.json["components"]?["database"]?["status"] == "ok")
                #expect(reply.json["components"]?["migrations"]?["status"] == "current")
                #expect(try await roster.send(.get, "/api/health/live").json["status"] == "ok")
            }
        }
    }
}
