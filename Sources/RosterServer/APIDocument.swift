import Foundation
import Hummingbird
import Yams

/// The OpenAPI document (openapi.yaml, the generator's input) as served: `servers` set to the
/// configured public URL, in YAML and in JSON with the document's own key order.
struct APIDocument: Sendable {
    let yaml: String
    let json: String

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
