import Foundation
import Hummingbird
import RosterAuth
import RosterStore
import Yams

/// The OpenAPI document (openapi.yaml, the generator's input) as served: `servers` set to the
/// configured public URL, in YAML and in JSON with the document's own key order.
struct APIDocument: Sendable {
    let yaml: String
    let json: String
    /// What each admin operation requires, as the document declares it.
    let access: RouteAccess

    struct LoadError: Error, CustomStringConvertible {
        let description: String
    }

    init(publicURL: String) throws {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml") else {
            throw LoadError(description: "openapi.yaml is missing from this build (roster_RosterServer.resources must sit beside the binary).")
        }
        guard var root = try Yams.compose(yaml: String(contentsOf: url, encoding: .utf8)), case .mapping(var document) = root else {
            throw LoadError(description: "openapi.yaml is not a YAML mapping.")
        }
        access = try RouteAccess(paths: document["paths"])
        document["servers"] = .sequence([.mapping(["url": Node(publicURL), "description": "This Roster."])])
        root = .mapping(document)
        yaml = try Yams.serialize(node: root, width: -1)
        json = Self.json(root)
    }

    /// JSON text for a YAML node, keeping mapping order (a dictionary round-trip would shuffle it).
    static func json(_ node: Node) -> String {
        switch node {
        case .mapping(let mapping):
            "{" + mapping.map { Self.string($0.key.string ?? "") + ":" + json($0.value) }.joined(separator: ",") + "}"
        case .sequence(let sequence):
            "[" + sequence.map(json).joined(separator: ",") + "]"
        case .scalar(let scalar):
            switch Tag.Name(rawValue: node.tag.rawValue) {
            case .int: node.int.map(String.init) ?? Self.string(scalar.string)
            case .float: node.float.flatMap { $0.isFinite ? String($0) : nil } ?? Self.string(scalar.string)
            case .bool: node.bool == true ? "true" : "false"
            case .null: "null"
            default: Self.string(scalar.string)
            }
        case .alias:
            "null"
        }
    }

    private static func string(_ text: String) -> String {
        let data = (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// `GET /api/v1/openapi.json` and `/api/v1/openapi.yaml`, without credentials.
    func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        let json = ByteBuffer(string: json)
        let yaml = ByteBuffer(string: yaml)
        router.get("api/v1/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: json))
        }
        router.get("api/v1/openapi.yaml") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: yaml))
        }
    }
}

/// Each admin operation's requirement, read from the document: `security: []` is public, otherwise its
/// `x-roster-scope`. The admin middleware enforces it before any handler runs, so the document is the one
/// place a route's scope is declared, and an operation that declares none is refused to every credential.
struct RouteAccess: Sendable, Equatable {
    enum Requirement: Sendable, Equatable {
        case open
        case scope(AdminScope)
        /// Any valid admin credential (`x-roster-access: authenticated`): a route about the credential itself.
        case authenticated
        /// A setup link's secret, and nothing else (`security: [{setupLink: []}]`).
        case setupLink
    }

    /// Keyed by "METHOD /path/{param}".
    let operations: [String: Requirement]

    init(paths: Node?) throws {
        guard case .mapping(let paths)? = paths else { throw APIDocument.LoadError(description: "openapi.yaml has no paths.") }
        var operations: [String: Requirement] = [:]
        for (path, item) in paths {
            guard let path = path.string, path.hasPrefix("/api/v1/") || path == "/metrics", case .mapping(let methods) = item else { continue }
            for (method, operation) in methods {
                guard let method = method.string, method != "parameters", case .mapping(let operation) = operation else { continue }
                let key = method.uppercased() + " " + path
                if case .sequence(let security)? = operation["security"], security.isEmpty {
                    operations[key] = .open
                } else if case .sequence(let security)? = operation["security"] {
                    guard security.count == 1, case .mapping(let scheme) = security[0], scheme.count == 1, scheme["setupLink"] != nil else {
                        throw APIDocument.LoadError(description: "openapi.yaml: \(key) names a security requirement other than the setup link's.")
                    }
                    operations[key] = .setupLink
                } else if operation["x-roster-access"]?.string == "authenticated" {
                    operations[key] = .authenticated
                } else if let raw = operation["x-roster-scope"]?.string {
                    guard let scope = AdminScope(rawValue: raw) else {
                        throw APIDocument.LoadError(description: "openapi.yaml: \(key) declares the unknown scope '\(raw)'.")
                    }
                    operations[key] = .scope(scope)
                }
            }
        }
        self.operations = operations
    }

    /// The requirement of a matched route (Hummingbird writes parameters as `{name}` or `:name`); nil: none declared.
    func requirement(method: String, route: String) -> Requirement? {
        let template = route.split(separator: "/", omittingEmptySubsequences: false)
            .map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
        return operations[method + " " + template]
    }
}
