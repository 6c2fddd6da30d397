import Foundation
/// RFC 7644 §3.4.2.5 / §3.9: `attributes` and `excludedAttributes` on returned resources.
///
/// Attributes whose `returned` is `always` (and `id`, `schemas`) survive both; `request`
/// attributes appear only when named in `attributes`; `never` ones were removed at render.
public struct Projection: Sendable, Equatable {
    public enum Mode: Sendable, Equatable {
        case all
        case only([AttributePath])
        case excluding([AttributePath])
    }

    public var mode: Mode

    public init(mode: Mode = .all) {
        self.mode = mode
    }

    /// From the query parameters. When both are given, `attributes` wins (RFC 7644 §3.4.2.5 leaves it open).
    public init(attributes: String?, excludedAttributes: String?) throws(ScimError) {
        func paths(_ text: String) throws(ScimError) -> [AttributePath] {
            var result: [AttributePath] = []
            for part in text.split(separator: ",") {
                let name = part.trimmingCharacters(in: .whitespaces)
                if name.isEmpty { continue }
                do {
                    result.append(try FilterParser.attributePath(name))
                } catch {
                    throw .init(status: 400, scimType: .invalidPath, detail: "'\(name)' is not a valid attribute path.")
                }
            }
            return result
        }
        if let attributes, !attributes.isEmpty {
            mode = .only(try paths(attributes))
        } else if let excludedAttributes, !excludedAttributes.isEmpty {
            mode = .excluding(try paths(excludedAttributes))
        } else {
            mode = .all
        }
    }

    /// Whether a response under this projection can include the core attribute `name`, so a caller
    /// can skip loading what would be dropped (a group's members under `excludedAttributes=members`).
    public func mayReturn(_ name: String) -> Bool {
        switch mode {
        case .all: true
        case .only(let paths): paths.contains { $0.schema == nil && $0.attribute.caseInsensitiveEquals(name) }
        case .excluding(let paths): !paths.contains { $0.schema == nil && $0.attribute.caseInsensitiveEquals(name) && $0.subAttribute == nil }
        }
    }

    /// Whether the request asked for any projection at all.
    public var isDefault: Bool { mode == .all }

    /// Applies the projection to a rendered resource of `type`.
    public func apply(to resource: JSONValue, of type: ResourceType) -> JSONValue {
        guard case .object(var object) = resource else { return resource }
        if case .only(let paths) = mode {
            Self.dropRequestOnly(&object, type, except: paths)
        } else {
            Self.dropRequestOnly(&object, type, except: [])
        }
        switch mode {
        case .all:
            return .object(object)
        case .only(let paths):
            var result: [String: JSONValue] = [:]
            for (key, value) in object {
                if Self.alwaysReturned(key, type) {
                    result[key] = value
                } else if let urn = type.extension(urn: key)?.schema.id, case .object(let ext) = value {
                    let kept = ext.filter { name, _ in paths.contains { $0.matches(schema: urn, attribute: name) } }
                        .reduce(into: [String: JSONValue]()) { $0[$1.key] = $1.value }
                    let whole = paths.contains { $0.schema == nil && $0.attribute.caseInsensitiveEquals(urn) }
                    if whole { result[key] = value } else if !kept.isEmpty { result[key] = .object(kept) }
                } else {
                    let matching = paths.filter { $0.matches(schema: type.schema.id, attribute: key) }
                    if matching.contains(where: { $0.subAttribute == nil }) {
                        result[key] = value
                    } else if !matching.isEmpty {
                        result[key] = Self.keepSubAttributes(value, matching.compactMap(\.subAttribute))
                    }
                }
            }
            return .object(result)
        case .excluding(let paths):
            var result = object
            for path in paths {
                let schema = path.schema ?? type.schema.id
                if let ext = type.extension(urn: schema), case .object(var extObject)? = result[ext.schema.id] {
                    if let key = extObject.keys.first(where: { $0.caseInsensitiveEquals(path.attribute) }) {
                        extObject[key] = nil
                        result[ext.schema.id] = extObject.isEmpty ? nil : .object(extObject)
                    }
                    continue
                }
                guard let key = result.keys.first(where: { $0.caseInsensitiveEquals(path.attribute) }),
                    !Self.alwaysReturned(key, type)
                else { continue }
                if let sub = path.subAttribute {
                    result[key] = Self.dropSubAttribute(result[key]!, sub)
                } else {
                    result[key] = nil
                }
            }
            return .object(result)
        }
    }

    /// RFC 7643 §7: `returned: request` attributes and sub-attributes appear only when `attributes` names them.
    private static func dropRequestOnly(_ object: inout [String: JSONValue], _ type: ResourceType, except paths: [AttributePath]) {
        func prune(_ fields: inout [String: JSONValue], _ schema: Schema) {
            for attribute in schema.attributes {
                if attribute.returned == .request, !paths.contains(where: { $0.matches(schema: schema.id, attribute: attribute.name) }) {
                    fields[attribute.name] = nil
                    continue
                }
                for sub in attribute.subAttributes ?? [] where sub.returned == .request {
                    let named = paths.contains { $0.matches(schema: schema.id, attribute: attribute.name) && $0.subAttribute?.caseInsensitiveEquals(sub.name) == true }
                    if !named, let value = fields[attribute.name] { fields[attribute.name] = dropSubAttribute(value, sub.name) }
                }
            }
        }
        prune(&object, type.schema)
        for ext in type.extensions {
            guard case .object(var fields)? = object[ext.schema.id] else { continue }
            prune(&fields, ext.schema)
            object[ext.schema.id] = fields.isEmpty ? nil : .object(fields)
        }
    }

    private static func alwaysReturned(_ key: String, _ type: ResourceType) -> Bool {
        if ["id", "schemas", "meta"].contains(key) { return true }
        return type.schema.attribute(named: key)?.returned == .always
    }

    private static func keepSubAttributes(_ value: JSONValue, _ names: [String]) -> JSONValue {
        func keep(_ element: JSONValue) -> JSONValue {
            guard case .object(let object) = element else { return element }
            return .object(object.filter { key, _ in names.contains { $0.caseInsensitiveEquals(key) } })
        }
        if case .array(let items) = value { return .array(items.map(keep)) }
        return keep(value)
    }

    private static func dropSubAttribute(_ value: JSONValue, _ name: String) -> JSONValue {
        func drop(_ element: JSONValue) -> JSONValue {
            guard case .object(let object) = element else { return element }
            return .object(object.filter { key, _ in !key.caseInsensitiveEquals(name) })
        }
        if case .array(let items) = value { return .array(items.map(drop)) }
        return drop(value)
    }
}

extension AttributePath {
    /// Whether this path names `attribute` of the schema `urn` (unqualified paths name the core schema).
    func matches(schema urn: String, attribute name: String) -> Bool {
        guard attribute.caseInsensitiveEquals(name) else { return false }
        guard let schema else { return true }
        return schema.caseInsensitiveEquals(urn)
    }
}
