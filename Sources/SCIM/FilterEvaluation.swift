import Foundation

/// Evaluates a value filter against one element of a multi-valued complex attribute, in memory.
///
/// Used by PATCH paths such as `emails[type eq "work"]`, where the candidates are the few elements
/// of one resource; list filters are compiled to SQL instead.
extension Filter {
    public func matches(element: [String: JSONValue], of attribute: SchemaAttribute) -> Bool {
        switch self {
        case .and(let left, let right):
            return left.matches(element: element, of: attribute) && right.matches(element: element, of: attribute)
        case .or(let left, let right):
            return left.matches(element: element, of: attribute) || right.matches(element: element, of: attribute)
        case .not(let inner):
            return !inner.matches(element: element, of: attribute)
        case .valuePath:
            return false
        case .present(let path):
            guard let value = Self.lookup(path, in: element) else { return false }
            return !value.isNull && value != .array([]) && value != .string("")
        case .comparison(let path, let op, let expected):
            let caseExact = attribute.subAttribute(named: path.subAttribute ?? path.attribute)?.caseExact ?? false
            return Self.compare(Self.lookup(path, in: element), op, expected, caseExact: caseExact)
        }
    }

    private static func lookup(_ path: AttributePath, in element: [String: JSONValue]) -> JSONValue? {
        // Inside a value filter the path names a sub-attribute of the element.
        let name = path.subAttribute ?? path.attribute
        return element.first { $0.key.caseInsensitiveEquals(name) }?.value
    }

    static func compare(_ actual: JSONValue?, _ op: ComparisonOperator, _ expected: JSONValue, caseExact: Bool) -> Bool {
        guard let actual, !actual.isNull else {
            // An absent value equals null and differs from everything else.
            return (op == .eq && expected.isNull) || (op == .ne && !expected.isNull)
        }
        if expected.isNull { return op == .ne }
        switch (actual, expected) {
        case (.string(let a), .string(let e)):
            if let da = SCIMDate.parse(a), let de = SCIMDate.parse(e), op != .co, op != .sw, op != .ew {
                return order(da, de, op)
            }
            let x = caseExact ? a : a.lowercased()
            let y = caseExact ? e : e.lowercased()
            switch op {
            case .co: return x.contains(y)
            case .sw: return x.hasPrefix(y)
            case .ew: return x.hasSuffix(y)
            default: return order(x, y, op)
            }
        case (.bool(let a), .bool(let e)):
            // Entra sends booleans as strings; compare them as booleans either way.
            return op == .eq ? a == e : op == .ne ? a != e : false
        case (.string(let a), .bool(let e)):
            return compare(.bool(a.lowercased() == "true"), op, .bool(e), caseExact: true)
        default:
            if let a = number(actual), let e = number(expected) { return order(a, e, op) }
            return op == .ne
        }
    }

    private static func number(_ value: JSONValue) -> Double? {
        switch value {
        case .integer(let i): Double(i)
        case .decimal(let d): d
        default: nil
        }
    }

    private static func order<T: Comparable>(_ a: T, _ b: T, _ op: ComparisonOperator) -> Bool {
        switch op {
        case .eq: a == b
        case .ne: a != b
        case .gt: a > b
        case .ge: a >= b
        case .lt: a < b
        case .le: a <= b
        case .co, .sw, .ew: false
        }
    }
}
