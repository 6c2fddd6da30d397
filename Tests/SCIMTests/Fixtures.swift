import Foundation
import SCIM

/// The schema documents of the repository's `schemas/` folder, as the server loads them.
enum Fixtures {
    static let registry: SchemaRegistry = {
        let directory = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("schemas")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        let schemas = files.filter { $0.hasSuffix(".json") }.compactMap { file -> Schema? in
            guard let data = try? Data(contentsOf: directory.appendingPathComponent(file)) else { return nil }
            return try? JSONDecoder().decode(Schema.self, from: data)
        }
        // swiftlint:disable:next force_try
        return try! SchemaRegistry(schemas: schemas)
    }()

    static var users: ResourceValidator { ResourceValidator(resourceType: registry.user) }
    static var groups: ResourceValidator { ResourceValidator(resourceType: registry.group) }

    static func json(_ text: String) -> JSONValue {
        // swiftlint:disable:next force_try
        try! JSONValue.parse(Array(text.utf8))
    }
}
