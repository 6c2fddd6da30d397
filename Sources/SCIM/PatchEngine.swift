public import Foundation

/// Applies PATCH operations (RFC 7644 §3.5.2) to a stored resource body, all or nothing.
///
/// Operations run in order on a copy; the result is validated as a whole against the schema
/// (types, canonical values, required, mutability) before anything is written. On a Group,
/// operations on `members` become `MembershipChange`s instead of body edits (the members rule,
/// `MembershipChange.swift`).
public struct PatchEngine: Sendable {
    public let resourceType: ResourceType

    public init(resourceType: ResourceType) {
        self.resourceType = resourceType
    }

    public struct Outcome: Sendable, Equatable {
        public var body: [String: JSONValue]
        public var membershipChanges: [MembershipChange]
    }

    public func apply(_ request: PatchRequest, to stored: [String: JSONValue]) throws(ScimError) -> Outcome {
        var body = stored
        var changes: [MembershipChange] = []
        for operation in request.operations {
            if let path = operation.path, path.filter == nil, let ext = resourceType.extension(urn: path.text) {
                try applyToExtension(operation.op, ext.schema.id, value: operation.value, to: &body, changes: &changes)
            } else if let path = operation.path {
                try apply(operation.op, at: try resolve(path), value: operation.value, to: &body, changes: &changes)
            } else {
                try applyPathless(operation.op, value: operation.value ?? .null, to: &body, changes: &changes)
            }
        }
        try checkImmutablesKept(body, stored)
        let validated = try ResourceValidator(resourceType: resourceType).validate(.object(body), existing: stored)
        return Outcome(body: validated, membershipChanges: changes)
    }

    /// Keys a client may echo back in a value object but never sets: skipped, as PUT ignores them.
    static let serverKeys = ["schemas", "id", "meta"]

    // MARK: - Targets

    /// What a path names, resolved against the schemas.
    struct Target {
        var extensionURN: String?
        var attribute: SchemaAttribute
        var subAttribute: SchemaAttribute?
        var filter: Filter?
        var path: String
    }

    func resolve(_ path: PatchPath) throws(ScimError) -> Target {
        let name = path.attribute
        let schemaID = name.schema
        var extensionURN: String?
        var schema = resourceType.schema
        if let schemaID, !schemaID.caseInsensitiveEquals(resourceType.schema.id) {
            guard let ext = resourceType.extension(urn: schemaID) else {
                throw .init(status: 400, scimType: .invalidPath, detail: "Unknown schema in path '\(path)'.")
            }
            extensionURN = ext.schema.id
            schema = ext.schema
        }
        if extensionURN == nil && name.attribute.caseInsensitiveEquals("externalId") {
            return Target(attribute: ResourceValidator.externalId, path: path.text)
        }
        if extensionURN == nil, ["id", "meta", "schemas"].contains(where: { name.attribute.caseInsensitiveEquals($0) }) {
            throw .mutability("'\(name.attribute)' is set by the server and cannot be modified.")
        }
        guard let attribute = schema.attribute(named: name.attribute) else {
            throw .init(status: 400, scimType: .invalidPath, detail: "Unknown attribute in path '\(path)'.")
        }
        var target = Target(extensionURN: extensionURN, attribute: attribute, filter: path.filter, path: path.text)
        if let subName = name.subAttribute ?? path.filteredSubAttribute {
            guard let sub = attribute.subAttribute(named: subName) else {
                throw .init(status: 400, scimType: .invalidPath, detail: "Unknown sub-attribute in path '\(path)'.")
            }
            target.subAttribute = sub
        }
        if path.filter != nil && !(attribute.multiValued && attribute.type == .complex) {
            throw .init(status: 400, scimType: .invalidPath, detail: "'\(attribute.name)' is not a multi-valued complex attribute; it takes no value filter.")
        }
        if attribute.mutability == .readOnly || target.subAttribute?.mutability == .readOnly {
            throw .mutability("'\(path)' is read-only.")
        }
        return target
    }

    /// Path-less add / replace: each key of the value object is a path (Entra sends dotted and
    /// URN-qualified keys, e.g. `name.givenName`); an extension URN key holds that extension's attributes.
    private func applyPathless(
        _ op: PatchRequest.Op, value: JSONValue, to body: inout [String: JSONValue], changes: inout [MembershipChange]
    ) throws(ScimError) {
        guard case .object(let object) = value else {
            throw .invalidValue("An '\(op.rawValue)' without a path needs an object value.")
        }
        for (key, item) in object {
            if Self.serverKeys.contains(where: { key.caseInsensitiveEquals($0) }) { continue }
            if let ext = resourceType.extension(urn: key) {
                guard case .object(let attributes) = item else {
                    throw .invalidValue("'\(key)' must be an object of the extension's attributes.")
                }
                for (name, extValue) in attributes where !Self.serverKeys.contains(where: { name.caseInsensitiveEquals($0) }) {
                    let path = try PatchPath.parse("\(ext.schema.id):\(name)")
                    try apply(op, at: try resolve(path), value: extValue, to: &body, changes: &changes)
                }
                continue
            }
            try apply(op, at: try resolve(try PatchPath.parse(key)), value: item, to: &body, changes: &changes)
        }
    }

    /// A path naming a whole extension (`urn:…:enterprise:2.0:User`): its attributes one by one, or all of them on remove.
    private func applyToExtension(
        _ op: PatchRequest.Op, _ urn: String, value: JSONValue?, to body: inout [String: JSONValue], changes: inout [MembershipChange]
    ) throws(ScimError) {
        if op == .remove {
            body[urn] = nil
            return
        }
        guard case .object(let attributes)? = value else {
            throw .invalidValue("'\(urn)' takes an object of the extension's attributes.")
        }
        for (name, item) in attributes where !Self.serverKeys.contains(where: { name.caseInsensitiveEquals($0) }) {
            try apply(op, at: try resolve(try PatchPath.parse("\(urn):\(name)")), value: item, to: &body, changes: &changes)
        }
    }

    // MARK: - Operations

    private func apply(
        _ op: PatchRequest.Op, at target: Target, value: JSONValue?, to body: inout [String: JSONValue],
        changes: inout [MembershipChange]
    ) throws(ScimError) {
        if isMembers(target) {
            changes.append(try membershipChange(op, target, value))
            return
        }
        var container = target.extensionURN.map { body[$0]?.objectValue ?? [:] } ?? body
        let name = target.attribute.name
        let current = container[name]
        let updated: JSONValue?
        switch op {
        case .add: updated = try add(value ?? .null, to: current, target)
        case .replace: updated = try replace(value ?? .null, in: current, target)
        case .remove: updated = try remove(value, from: current, target)
        }
        container[name] = updated.flatMap { $0.isNull || $0 == .array([]) || $0 == .object([:]) ? nil : $0 }
        if let urn = target.extensionURN {
            body[urn] = container.isEmpty ? nil : .object(container)
        } else {
            body = container
        }
    }

    private func add(_ value: JSONValue, to current: JSONValue?, _ target: Target) throws(ScimError) -> JSONValue? {
        let attribute = target.attribute
        if let filter = target.filter {
            return try updateMatching(current, filter, target, creating: true) { element throws(ScimError) in
                try merge(value, into: element, target)
            }
        }
        if let sub = target.subAttribute {
            if attribute.multiValued {
                return .array((current?.arrayValue ?? []).map { element in
                    var object = element.objectValue ?? [:]
                    object[sub.name] = value
                    return .object(object)
                })
            }
            var object = current?.objectValue ?? [:]
            object[sub.name] = value
            return .object(object)
        }
        if attribute.multiValued {
            var elements = current?.arrayValue ?? []
            var written: [Int] = []
            for item in try (value.arrayValue ?? [value]).map({ item throws(ScimError) in try complexValue(item, attribute, path: target.path) }) {
                // RFC 7644 §3.5.2.1: add merges into a multi-valued attribute; equal values are not repeated.
                if let index = elements.firstIndex(where: { sameValue($0, item, attribute) }) {
                    elements[index] = item
                    written.append(index)
                } else {
                    elements.append(item)
                    written.append(elements.count - 1)
                }
            }
            return .array(clearOtherPrimaries(elements, keeping: written))
        }
        if attribute.type == .complex {
            let fields = try complexValue(value, attribute, path: target.path).objectValue ?? [:]
            return .object((current?.objectValue ?? [:]).merging(fields) { _, new in new })
        }
        return value
    }

    private func replace(_ value: JSONValue, in current: JSONValue?, _ target: Target) throws(ScimError) -> JSONValue? {
        let attribute = target.attribute
        if let filter = target.filter {
            return try updateMatching(current, filter, target, creating: true) { element throws(ScimError) in
                if target.subAttribute != nil { return try merge(value, into: element, target) }
                // RFC 7644 §3.5.2.3: matching values are replaced by the given value.
                return try complexValue(value, attribute, path: target.path)
            }
        }
        if target.subAttribute != nil { return try add(value, to: current, target) }
        if attribute.multiValued {
            let elements = try (value.arrayValue ?? [value]).map { item throws(ScimError) in try complexValue(item, attribute, path: target.path) }
            return .array(clearOtherPrimaries(elements, keeping: elements.indices.reversed().first { isPrimary(elements[$0]) }.map { [$0] } ?? []))
        }
        if attribute.type == .complex {
            // RFC 7644 §3.5.2.3: sub-attributes not given are left unchanged.
            let fields = try complexValue(value, attribute, path: target.path).objectValue ?? [:]
            return .object((current?.objectValue ?? [:]).merging(fields) { _, new in new })
        }
        return value
    }

    private func remove(_ value: JSONValue?, from current: JSONValue?, _ target: Target) throws(ScimError) -> JSONValue? {
        let attribute = target.attribute
        if let filter = target.filter {
            let elements = current?.arrayValue ?? []
            let matching = elements.indices.filter { matches(elements[$0], filter, attribute) }
            guard !matching.isEmpty else {
                throw .init(status: 400, scimType: .noTarget, detail: "No value of '\(attribute.name)' matches '\(target.path)'.")
            }
            if let sub = target.subAttribute {
                return .array(elements.enumerated().map { index, element in
                    guard matching.contains(index), case .object(var object) = element else { return element }
                    object[sub.name] = nil
                    return .object(object)
                })
            }
            return .array(elements.enumerated().filter { !matching.contains($0.offset) }.map(\.element))
        }
        if let sub = target.subAttribute {
            if attribute.multiValued {
                return .array((current?.arrayValue ?? []).map { element in
                    guard case .object(var object) = element else { return element }
                    object[sub.name] = nil
                    return .object(object)
                })
            }
            guard case .object(var object)? = current else { return current }
            object[sub.name] = nil
            return .object(object)
        }
        // Entra removes listed values by path plus a value array: only those values go.
        if attribute.multiValued, let value, !value.isNull {
            let doomed = try (value.arrayValue ?? [value]).map { item throws(ScimError) in try complexValue(item, attribute, path: target.path) }
            return .array((current?.arrayValue ?? []).filter { element in !doomed.contains { sameValue(element, $0, attribute) } })
        }
        return nil
    }

    // MARK: - Multi-valued helpers

    /// Applies `change` to every element the filter matches; when none does and `creating`, adds an
    /// element built from the filter's `eq` terms (Entra adds `emails[type eq "work"].value` this way).
    private func updateMatching(
        _ current: JSONValue?, _ filter: Filter, _ target: Target, creating: Bool,
        _ change: ([String: JSONValue]) throws(ScimError) -> JSONValue
    ) throws(ScimError) -> JSONValue {
        var elements = current?.arrayValue ?? []
        var written: [Int] = []
        for index in elements.indices where matches(elements[index], filter, target.attribute) {
            elements[index] = try change(elements[index].objectValue ?? [:])
            written.append(index)
        }
        if written.isEmpty {
            guard creating, let seed = Self.equalities(filter) else {
                throw .init(status: 400, scimType: .noTarget, detail: "No value of '\(target.attribute.name)' matches '\(target.path)'.")
            }
            elements.append(try change(seed))
            written.append(elements.count - 1)
        }
        return .array(clearOtherPrimaries(elements, keeping: written))
    }

    private func merge(_ value: JSONValue, into element: [String: JSONValue], _ target: Target) throws(ScimError) -> JSONValue {
        var object = element
        if let sub = target.subAttribute {
            object[sub.name] = value
        } else {
            guard case .object(let fields) = try complexValue(value, target.attribute, path: target.path) else {
                throw .invalidValue("'\(target.path)' takes an object value.")
            }
            object.merge(fields) { _, new in new }
        }
        return .object(object)
    }

    /// `type eq "work" and value eq "x"` → `{"type": "work", "value": "x"}`; nil for any other shape.
    static func equalities(_ filter: Filter) -> [String: JSONValue]? {
        switch filter {
        case .comparison(let path, .eq, let value) where path.subAttribute == nil && path.schema == nil:
            return [path.attribute: value]
        case .and(let left, let right):
            guard let l = equalities(left), let r = equalities(right) else { return nil }
            return l.merging(r) { a, _ in a }
        default:
            return nil
        }
    }

    private func matches(_ element: JSONValue, _ filter: Filter, _ attribute: SchemaAttribute) -> Bool {
        guard case .object(let object) = element else { return false }
        return filter.matches(element: object, of: attribute)
    }

    /// One value of a complex attribute must be an object; any other shape is refused, not dropped or guessed at.
    /// The one exception: a bare value for a single-valued complex attribute with a `value` sub-attribute
    /// means `{"value": …}`, because Entra ID sets the enterprise `manager` to a bare id (Microsoft Q&A 188003,
    /// "SCIM user provisioning setup with manager attribute": Azure AD "sends manager as a simple attribute").
    private func complexValue(_ value: JSONValue, _ attribute: SchemaAttribute, path: String) throws(ScimError) -> JSONValue {
        guard attribute.type == .complex, value.objectValue == nil, !value.isNull else { return value }
        if !attribute.multiValued, let sub = attribute.subAttribute(named: "value") { return .object([sub.name: value]) }
        let what = attribute.multiValued ? "each of its values must be an object" : "its value must be an object"
        throw .invalidValue("'\(path)' is a complex attribute: \(what), not \(value.typeName).")
    }

    private func sameValue(_ a: JSONValue, _ b: JSONValue, _ attribute: SchemaAttribute) -> Bool {
        if attribute.type == .complex, let x = a["value"], let y = b["value"] {
            let caseExact = attribute.subAttribute(named: "value")?.caseExact ?? false
            return Filter.compare(x, .eq, y, caseExact: caseExact)
        }
        return a == b
    }

    private func isPrimary(_ element: JSONValue) -> Bool {
        switch element["primary"] {
        case .bool(true)?: true
        case .string(let s)?: s.lowercased() == "true"
        default: false
        }
    }

    /// RFC 7643 §2.4: one primary at most; a value just written as primary wins.
    private func clearOtherPrimaries(_ elements: [JSONValue], keeping written: [Int]) -> [JSONValue] {
        guard let winner = written.last(where: { isPrimary(elements[$0]) }) else { return elements }
        return elements.enumerated().map { index, element in
            guard index != winner, isPrimary(element), case .object(var object) = element else { return element }
            object["primary"] = .bool(false)
            return .object(object)
        }
    }

    // MARK: - Group membership

    /// The members rule (`ResourceType.storesApart`): such operations change memberships, never the body.
    private func isMembers(_ target: Target) -> Bool {
        target.extensionURN == nil && resourceType.storesApart(target.attribute.name)
    }

    private func membershipChange(_ op: PatchRequest.Op, _ target: Target, _ value: JSONValue?) throws(ScimError) -> MembershipChange {
        if target.subAttribute != nil && target.filter == nil {
            throw .init(status: 400, scimType: .invalidPath, detail: "Members are added or removed whole; '\(target.path)' names a part of them.")
        }
        switch op {
        case .add:
            return .add(try references(value, target.attribute))
        case .replace:
            guard target.filter == nil else {
                throw .init(status: 400, scimType: .invalidPath, detail: "Replace a group's members with 'replace members' or remove and add them.")
            }
            return .replace(try references(value, target.attribute))
        case .remove:
            if let filter = target.filter {
                guard let ids = Self.memberIDs(filter) else {
                    throw .invalidFilter("Member filters in a path must be 'value eq \"<id>\"', optionally joined with 'or'.")
                }
                return .remove(ids)
            }
            if let value, !value.isNull {
                return .remove(try references(value, target.attribute).map(\.id))
            }
            return .removeAll
        }
    }

    private func references(_ value: JSONValue?, _ members: SchemaAttribute) throws(ScimError) -> [MemberReference] {
        guard let value, !value.isNull else { return [] }
        let items = try (value.arrayValue ?? [value]).map { item throws(ScimError) in try complexValue(item, members, path: members.name) }
        return try resourceType.memberReferences(items)
    }

    /// `value eq "a" or value eq "b"` → [a, b]. An id that is not a UUID names no member.
    static func memberIDs(_ filter: Filter) -> [UUID]? {
        switch filter {
        case .comparison(let path, .eq, .string(let id)) where path.attribute.caseInsensitiveEquals("value") && path.subAttribute == nil:
            return UUID(uuidString: id).map { [$0] } ?? []
        case .or(let left, let right):
            guard let l = memberIDs(left), let r = memberIDs(right) else { return nil }
            return l + r
        default:
            return nil
        }
    }

    /// RFC 7643 §2.2: an immutable attribute that has a value may not be removed.
    private func checkImmutablesKept(_ body: [String: JSONValue], _ stored: [String: JSONValue]) throws(ScimError) {
        let schemas = [(resourceType.schema, nil as String?)] + resourceType.extensions.map { ($0.schema, $0.schema.id) }
        for (schema, urn) in schemas {
            let before = urn.map { stored[$0]?.objectValue ?? [:] } ?? stored
            let after = urn.map { body[$0]?.objectValue ?? [:] } ?? body
            for attribute in schema.attributes where attribute.mutability == .immutable {
                if before[attribute.name] != nil && after[attribute.name] == nil {
                    throw .mutability("'\(attribute.name)' is immutable and cannot be removed.")
                }
            }
        }
    }
}
