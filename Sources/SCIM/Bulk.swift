import Foundation
/// RFC 7644 §3.7: a bulk request, parsed and checked against the advertised limits.
public struct BulkRequest: Sendable {
    public static let schema = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
    public static let responseSchema = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"

    /// What ServiceProviderConfig advertises and the server enforces.
    public static let maxOperations = 1000
    /// The SCIM request body limit: a bulk request may carry a 100 000-member group.
    public static let maxPayloadSize = 16 * 1024 * 1024

    public struct Operation: Sendable {
        public enum Method: String, Sendable {
            case post = "POST", put = "PUT", patch = "PATCH", delete = "DELETE"
        }

        public var method: Method
        public var bulkID: String?
        /// Relative to the SCIM root: `/Users`, `/Groups/<id>`, `/Groups/bulkId:<bulkId>`.
        public var path: String
        /// An entity tag the resource must still have (`If-Match`).
        public var version: String?
        public var data: JSONValue?

        public init(method: Method, bulkID: String? = nil, path: String, version: String? = nil, data: JSONValue? = nil) {
            self.method = method
            self.bulkID = bulkID
            self.path = path
            self.version = version
            self.data = data
        }

        /// The bulkIds this operation refers to (`bulkId:<id>` as its path's id or as any string in its data).
        public var references: Set<String> {
            var found = Set(BulkReference.ids(in: Self.split(path).id ?? ""))
            data?.forEachString { found.formUnion(BulkReference.ids(in: $0)) }
            return found
        }

        /// `/Users/2819c223` → ("Users", "2819c223"); a leading slash is optional.
        public var target: (endpoint: String, id: String?) { Self.split(path) }

        static func split(_ path: String) -> (endpoint: String, id: String?) {
            let parts = path.drop { $0 == "/" }.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            let endpoint = parts.first.map(String.init) ?? ""
            let id = parts.count > 1 ? String(parts[1]) : nil
            return (endpoint, id?.isEmpty == true ? nil : id)
        }
    }

    /// How many errors end the job (RFC 7644 §3.7.3); nil: run every operation.
    public var failOnErrors: Int?
    public var operations: [Operation]

    public init(_ json: JSONValue) throws(ScimError) {
        guard case .object(let object) = json else { throw .invalidSyntax("A bulk request must be a JSON object.") }
        func field(_ name: String) -> JSONValue? { object.first { $0.key.caseInsensitiveEquals(name) }?.value }
        let schemas = field("schemas")?.arrayValue ?? []
        guard schemas.contains(where: { $0.stringValue?.caseInsensitiveEquals(Self.schema) == true }) else {
            throw .invalidSyntax("A bulk request's 'schemas' must be [\"\(Self.schema)\"].")
        }
        switch field("failOnErrors") {
        case nil, .null?: failOnErrors = nil
        case .integer(let count)? where count > 0: failOnErrors = count
        default: throw .invalidValue("'failOnErrors' must be a positive integer.")
        }
        guard let list = field("Operations")?.arrayValue else {
            throw .invalidSyntax("A bulk request needs an 'Operations' array.")
        }
        guard list.count <= Self.maxOperations else {
            throw ScimError(
                status: 413, scimType: .tooMany,
                detail: "The bulk request has \(list.count) operations; maxOperations is \(Self.maxOperations).")
        }
        operations = try list.enumerated().map { index, item throws(ScimError) in try Self.operation(item, index: index) }
        var seen: Set<String> = []
        for case let id? in operations.map(\.bulkID) where !seen.insert(id).inserted {
            throw .invalidValue("bulkId '\(id)' names more than one operation.")
        }
    }

    private static func operation(_ item: JSONValue, index: Int) throws(ScimError) -> Operation {
        let at = "Operations[\(index)]"
        guard case .object(let object) = item else { throw .invalidSyntax("\(at) must be an object.") }
        func field(_ name: String) -> JSONValue? { object.first { $0.key.caseInsensitiveEquals(name) }?.value }
        func text(_ name: String) throws(ScimError) -> String? {
            guard let value = field(name), !value.isNull else { return nil }
            guard let text = value.stringValue else { throw .invalidSyntax("\(at).\(name) must be a string.") }
            return text
        }
        guard let name = try text("method"), let method = Operation.Method(rawValue: name.uppercased()) else {
            throw .invalidSyntax("\(at).method must be POST, PUT, PATCH or DELETE.")
        }
        guard let path = try text("path"), !path.isEmpty else { throw .invalidSyntax("\(at).path is required.") }
        let data = field("data").flatMap { $0.isNull ? nil : $0 }
        if method != .delete, data == nil { throw .invalidSyntax("\(at).data is required for \(method.rawValue).") }
        let bulkID = try text("bulkId")
        if method == .post, bulkID?.isEmpty != false { throw .invalidSyntax("\(at).bulkId is required for POST.") }
        return Operation(method: method, bulkID: bulkID, path: path, version: try text("version"), data: data)
    }
}

/// `bulkId:<id>` references: a whole string (a member's value, a path's id), or quoted inside a
/// PATCH path (`members[value eq "bulkId:qwerty"]`).
enum BulkReference {
    static let prefix = "bulkId:"

    static func ids(in text: String) -> [String] {
        if text.hasPrefix(prefix) { return [String(text.dropFirst(prefix.count))] }
        guard text.contains("\"\(prefix)") else { return [] }
        return quoted(text).map(\.id)
    }

    static func replacing(_ text: String, _ ids: [String: String]) -> String {
        if text.hasPrefix(prefix) { return ids[String(text.dropFirst(prefix.count))] ?? text }
        guard text.contains("\"\(prefix)") else { return text }
        var result = text
        for (range, id) in quoted(text).reversed() {
            if let new = ids[id] { result.replaceSubrange(range, with: new) }
        }
        return result
    }

    /// Each `"bulkId:<id>"` in `text`: the range of `bulkId:<id>` and the id.
    private static func quoted(_ text: String) -> [(range: Range<String.Index>, id: String)] {
        var found: [(Range<String.Index>, String)] = []
        var rest = text[...]
        while let open = rest.range(of: "\"\(prefix)") {
            let start = text.index(after: open.lowerBound)
            guard let close = text[open.upperBound...].firstIndex(of: "\"") else { break }
            found.append((start..<close, String(text[open.upperBound..<close])))
            rest = text[text.index(after: close)...]
        }
        return found
    }
}

/// What one operation came to, for the bulk response.
public struct BulkResult: Sendable {
    public var status: Int
    /// The resource's id; a POST's is what `bulkId:` references resolve to.
    public var id: String?
    public var location: String?
    public var version: String?
    public var error: ScimError?

    public init(status: Int, id: String? = nil, location: String? = nil, version: String? = nil, error: ScimError? = nil) {
        self.status = status
        self.id = id
        self.location = location
        self.version = version
        self.error = error
    }

    public static func failed(_ error: ScimError, location: String? = nil) -> BulkResult {
        BulkResult(status: error.status, location: location, error: error)
    }

    public var succeeded: Bool { (200..<300).contains(status) }
}

/// Runs a bulk request's operations (RFC 7644 §3.7): in request order, except that an operation
/// referring to `bulkId:x` runs after the POST that creates `x`, with the reference replaced by the
/// new id. A reference to an unknown bulkId is 400; one that goes round in a circle, or names a POST
/// that failed, is 409 (§3.7.1 lets a server refuse circular references that way). After
/// `failOnErrors` errors nothing more runs. The I/O is the caller's: `perform` does one operation.
public struct BulkProcessor: Sendable {
    public let request: BulkRequest

    public init(_ request: BulkRequest) {
        self.request = request
    }

    /// The results of the operations that ran, in request order.
    public func run(
        perform: (BulkRequest.Operation) async -> BulkResult
    ) async -> [(operation: BulkRequest.Operation, result: BulkResult)] {
        await run(batchable: { _ in false }, performBatch: { _, _ in [] }, perform: perform)
    }

    /// As `run(perform:)`, but a run of two or more consecutive operations that `batchable` accepts
    /// and that refer to no bulkId goes to `performBatch` at once, in request order. Nothing runs
    /// between the operations of such a run when they run one by one either, so the order is the same.
    ///
    /// `performBatch` gets the operations and how many more errors the request tolerates (nil: any
    /// number). It returns a result for each operation it performed, in order: all of them, or fewer
    /// when the errors ran out at the last one returned; it must not have written anything for the
    /// operations after it, exactly as if they had run one by one and the job had stopped there.
    public func run(
        batchable: (BulkRequest.Operation) -> Bool,
        performBatch: ([BulkRequest.Operation], _ errorBudget: Int?) async -> [BulkResult],
        perform: (BulkRequest.Operation) async -> BulkResult
    ) async -> [(operation: BulkRequest.Operation, result: BulkResult)] {
        var run = Run(request: request)
        let operations = request.operations
        func joins(_ index: Int) -> Bool { batchable(operations[index]) && operations[index].references.isEmpty }
        var index = operations.startIndex
        while index < operations.endIndex {
            if run.results[index] == nil, joins(index) {
                // Operations already performed (the creator of an earlier reference) are passed over.
                var batch: [Int] = []
                var next = index
                while next < operations.endIndex, run.results[next] != nil || joins(next) {
                    if run.results[next] == nil { batch.append(next) }
                    next += 1
                }
                if batch.count > 1 {
                    await run.performBatch(batch, perform: performBatch)
                    if run.stopped { break }
                    index = next
                    continue
                }
            }
            await run.resolve(index, perform: perform)
            if run.stopped { break }
            index += 1
        }
        return operations.indices.compactMap { index in
            run.results[index].map { (run.resolved[index] ?? operations[index], $0) }
        }
    }

    private struct Run {
        let request: BulkRequest
        let creators: [String: Int]
        var results: [Int: BulkResult] = [:]
        /// Operations as performed, with their references replaced by ids.
        var resolved: [Int: BulkRequest.Operation] = [:]
        var running: Set<Int> = []
        var errors = 0
        var stopped = false

        init(request: BulkRequest) {
            self.request = request
            var creators: [String: Int] = [:]
            for (index, operation) in request.operations.enumerated() where operation.method == .post {
                if let id = operation.bulkID { creators[id] = index }
            }
            self.creators = creators
        }

        /// Runs operation `index` (and first what it refers to); true when it succeeded.
        @discardableResult
        mutating func resolve(_ index: Int, perform: (BulkRequest.Operation) async -> BulkResult) async -> Bool {
            if let result = results[index] { return result.succeeded }
            var operation = request.operations[index]
            running.insert(index)
            defer { running.remove(index) }
            var ids: [String: String] = [:]
            for reference in operation.references.sorted() {
                guard let creator = creators[reference] else {
                    record(index, .failed(.invalidValue("bulkId '\(reference)' is not the bulkId of a POST in this request.")))
                    return false
                }
                if running.contains(creator) {
                    record(index, .failed(ScimError(status: 409, detail: "bulkId '\(reference)' is part of a circular reference.")))
                    return false
                }
                let created = await resolve(creator, perform: perform)
                if stopped { return false }
                guard created, let id = results[creator]?.id else {
                    record(index, .failed(ScimError(status: 409, detail: "bulkId '\(reference)' names an operation that failed.")))
                    return false
                }
                ids[reference] = id
            }
            if !ids.isEmpty {
                let (endpoint, id) = operation.target
                if let id { operation.path = "/\(endpoint)/\(BulkReference.replacing(id, ids))" }
                operation.data = operation.data?.mapStrings { BulkReference.replacing($0, ids) }
            }
            resolved[index] = operation
            let result = await perform(operation)
            record(index, result)
            return result.succeeded
        }

        /// Operations with no references, in request order, performed together.
        mutating func performBatch(
            _ indices: [Int], perform: ([BulkRequest.Operation], Int?) async -> [BulkResult]
        ) async {
            let results = await perform(indices.map { request.operations[$0] }, request.failOnErrors.map { $0 - errors })
            for (index, result) in zip(indices, results) {
                record(index, result)
                if stopped { break }
            }
        }

        mutating func record(_ index: Int, _ result: BulkResult) {
            results[index] = result
            if !result.succeeded {
                errors += 1
                if let limit = request.failOnErrors, errors >= limit { stopped = true }
            }
        }
    }
}

extension BulkRequest {
    /// The `BulkResponse` message for the operations that ran.
    public static func response(_ results: [(operation: Operation, result: BulkResult)]) -> JSONValue {
        .object([
            "schemas": [.string(responseSchema)],
            "Operations": .array(results.map { operation, result in
                var object: [String: JSONValue] = [
                    "method": .string(operation.method.rawValue),
                    "status": .string(String(result.status)),
                ]
                if let id = operation.bulkID { object["bulkId"] = .string(id) }
                if let location = result.location { object["location"] = .string(location) }
                if let version = result.version { object["version"] = .string(version) }
                if let error = result.error { object["response"] = error.body }
                return .object(object)
            }),
        ])
    }
}

extension JSONValue {
    func forEachString(_ body: (String) -> Void) {
        switch self {
        case .string(let text): body(text)
        case .array(let items): items.forEach { $0.forEachString(body) }
        case .object(let object): object.values.forEach { $0.forEachString(body) }
        default: break
        }
    }

    func mapStrings(_ transform: (String) -> String) -> JSONValue {
        switch self {
        case .string(let text): .string(transform(text))
        case .array(let items): .array(items.map { $0.mapStrings(transform) })
        case .object(let object): .object(object.mapValues { $0.mapStrings(transform) })
        default: self
        }
    }
}
