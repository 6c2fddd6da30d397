import Foundation
public import SCIM

/// Loads the schema documents: the built-in ones shipped with the build, then an operator's folder.
public enum SchemaDocuments {
    public struct LoadError: Error, CustomStringConvertible {
        public let description: String
    }

    public static func registry(extraDirectory: String? = nil) throws -> SchemaRegistry {
        guard let builtIn = Bundle.module.url(forResource: "Schemas", withExtension: nil) else {
            throw LoadError(description: "The built-in schemas are missing from this build (roster_RosterServer.resources must sit beside the binary).")
        }
        var schemas = try load(directory: builtIn)
        if let extraDirectory {
            for schema in try load(directory: URL(fileURLWithPath: extraDirectory)) {
                schemas.removeAll { $0.id == schema.id }
                schemas.append(schema)
            }
        }
        return try SchemaRegistry(schemas: schemas)
    }

    static func load(directory: URL) throws -> [Schema] {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }.sorted()
        return try files.map { file in
            let data = try Data(contentsOf: directory.appendingPathComponent(file))
            do {
                return try JSONDecoder().decode(Schema.self, from: data)
            } catch {
                throw LoadError(description: "Schema document \(file) is not a valid RFC 7643 schema: \(error)")
            }
        }
    }
}
