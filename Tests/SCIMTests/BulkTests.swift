import SCIM
import Testing

@Suite("Bulk requests (RFC 7644 §3.7): parsing, limits, bulkId references, failOnErrors")
struct BulkTests {
    static let schema = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"

    func request(_ operations: String, failOnErrors: Int? = nil) throws -> BulkRequest {
        let fail = failOnErrors.map { #""failOnErrors":\#($0),"# } ?? ""
        return try BulkRequest(Fixtures.json(#"{"schemas":["\#(Self.schema)"],\#(fail)"Operations":\#(operations)}"#))
    }

    func error(_ body: String) -> ScimError? {
        do {
            _ = try BulkRequest(Fixtures.json(body))
            return nil
        } catch {
            return error
        }
    }

    /// Runs the request with a `perform` that records the order and answers as `outcome` says
    /// (POSTs create ids `id-<bulkId>`).
    func run(
        _ request: BulkRequest, outcome: @escaping @Sendable (BulkRequest.Operation) -> BulkResult? = { _ in nil }
    ) async -> (order: [String], results: [(operation: BulkRequest.Operation, result: BulkResult)]) {
        var order: [String] = []
        let results = await BulkProcessor(request).run { operation in
            order.append("\(operation.method.rawValue) \(operation.path)")
            if let result = outcome(operation) { return result }
            return operation.method == .post
                ? BulkResult(status: 201, id: "id-\(operation.bulkID ?? "")", location: "loc", version: #"W/"1""#)
                : BulkResult(status: 200, location: "loc", version: #"W/"2""#)
        }
        return (order, results)
    }

    @Test("a request needs the BulkRequest schema and an Operations array; each operation a method, path and data")
    func shape() {
        #expect(error(#"{"Operations":[]}"#)?.scimType == .invalidSyntax)
        #expect(error(#"{"schemas":["\#(Self.schema)"]}"#)?.scimType == .invalidSyntax)
        #expect(error(#"{"schemas":["\#(Self.schema)"],"Operations":[{"method":"GET","path":"/Users"}]}"#)?.scimType == .invalidSyntax)
        #expect(error(#"{"schemas":["\#(Self.schema)"],"Operations":[{"method":"PUT","path":"/Users/1"}]}"#)?.scimType == .invalidSyntax)
        #expect(error(#"{"schemas":["\#(Self.schema)"],"Operations":[{"method":"POST","path":"/Users","data":{}}]}"#)?.detail.contains("bulkId") == true)
        #expect(error(#"{"schemas":["\#(Self.schema)"],"failOnErrors":0,"Operations":[]}"#)?.scimType == .invalidValue)
        #expect(error(#"[]"#)?.status == 400)
    }

    @Test("more than maxOperations is 413 tooMany; a bulkId used twice is invalidValue")
    func limits() throws {
        let one = #"{"method":"DELETE","path":"/Users/x"}"#
        let many = "[" + Array(repeating: one, count: BulkRequest.maxOperations + 1).joined(separator: ",") + "]"
        let tooMany = error(#"{"schemas":["\#(Self.schema)"],"Operations":\#(many)}"#)
        #expect(tooMany?.status == 413)
        #expect(tooMany?.scimType == .tooMany)
        let exactly = "[" + Array(repeating: one, count: BulkRequest.maxOperations).joined(separator: ",") + "]"
        #expect(try request(exactly).operations.count == BulkRequest.maxOperations)
        let twice = error(#"""
            {"schemas":["\#(Self.schema)"],"Operations":[
             {"method":"POST","path":"/Users","bulkId":"a","data":{}},{"method":"POST","path":"/Groups","bulkId":"a","data":{}}]}
            """#)
        #expect(twice?.scimType == .invalidValue)
    }

    @Test("references are found in the path, in any data string, and quoted in a PATCH path")
    func references() throws {
        let bulk = try request(#"""
            [{"method":"PATCH","path":"/Groups/bulkId:g","data":{"Operations":[
              {"op":"add","path":"members","value":[{"value":"bulkId:u1"}]},
              {"op":"remove","path":"members[value eq \"bulkId:u2\"]"}]}},
             {"method":"post","path":"Users","bulkId":"plain","data":{"userName":"bulkId-not-a-reference"}}]
            """#)
        #expect(bulk.operations[0].references == ["g", "u1", "u2"])
        #expect(bulk.operations[1].references == [])
        #expect(bulk.operations[1].method == .post)
        #expect(bulk.operations[1].target.endpoint == "Users")
        #expect(bulk.operations[1].target.id == nil)
    }

    @Test("an operation referring to a later POST runs after it, with the new id in its data and path")
    func forwardReference() async throws {
        let bulk = try request(#"""
            [{"method":"POST","path":"/Groups","bulkId":"g","data":{"displayName":"G","members":[{"value":"bulkId:u"}]}},
             {"method":"POST","path":"/Users","bulkId":"u","data":{"userName":"alice"}},
             {"method":"PATCH","path":"/Groups/bulkId:g","data":{"Operations":[{"op":"remove","path":"members[value eq \"bulkId:u\"]"}]}}]
            """#)
        let (order, results) = await run(bulk)
        #expect(order == ["POST /Users", "POST /Groups", "PATCH /Groups/id-g"])
        #expect(results.map(\.operation.bulkID) == ["g", "u", nil], "results keep the request's order")
        let members = results[0].operation.data?["members"]
        #expect(members == [["value": "id-u"]])
        let removal = results[2].operation.data?["Operations"]?.arrayValue?.first?["path"]
        #expect(removal == #"members[value eq "id-u"]"#)
    }

    @Test("a circular reference is 409 for each operation in the circle; the others still run")
    func circular() async throws {
        let bulk = try request(#"""
            [{"method":"POST","path":"/Groups","bulkId":"a","data":{"displayName":"A","members":[{"value":"bulkId:b"}]}},
             {"method":"POST","path":"/Groups","bulkId":"b","data":{"displayName":"B","members":[{"value":"bulkId:a"}]}},
             {"method":"POST","path":"/Users","bulkId":"c","data":{"userName":"carol"}}]
            """#)
        let (order, results) = await run(bulk)
        #expect(order == ["POST /Users"])
        #expect(results.map(\.result.status) == [409, 409, 201])
        #expect(results[0].result.error?.detail.contains("failed") == true)
        #expect(results[1].result.error?.detail.contains("circular") == true)
    }

    @Test("an unknown bulkId is 400 invalidValue; a reference to a failed POST is 409")
    func unresolved() async throws {
        let bulk = try request(#"""
            [{"method":"PATCH","path":"/Groups/bulkId:nowhere","data":{"Operations":[]}},
             {"method":"POST","path":"/Users","bulkId":"u","data":{"userName":"taken"}},
             {"method":"POST","path":"/Groups","bulkId":"g","data":{"displayName":"G","members":[{"value":"bulkId:u"}]}}]
            """#)
        let (order, results) = await run(bulk) { operation in
            operation.bulkID == "u" ? .failed(.uniqueness("taken")) : nil
        }
        #expect(order == ["POST /Users"])
        #expect(results.map(\.result.status) == [400, 409, 409])
        #expect(results[0].result.error?.scimType == .invalidValue)
    }

    @Test("failOnErrors: after that many errors nothing more runs, and only what ran is reported")
    func failOnErrors() async throws {
        let operations = #"""
            [{"method":"DELETE","path":"/Users/1"},{"method":"DELETE","path":"/Users/2"},
             {"method":"DELETE","path":"/Users/3"},{"method":"DELETE","path":"/Users/4"}]
            """#
        let failing: @Sendable (BulkRequest.Operation) -> BulkResult? = { operation in
            operation.path.hasSuffix("1") || operation.path.hasSuffix("3") ? .failed(.notFound("gone")) : nil
        }
        let stopped = await run(try request(operations, failOnErrors: 2), outcome: failing)
        #expect(stopped.order == ["DELETE /Users/1", "DELETE /Users/2", "DELETE /Users/3"])
        let all = await run(try request(operations), outcome: failing)
        #expect(all.results.map(\.result.status) == [404, 200, 404, 200])
    }

    /// What the closures of one run saw.
    final class Log {
        var order: [String] = []
        var budgets: [Int?] = []
    }

    @Test("runs of batchable operations with no references go to performBatch together, in order; the rest one by one")
    func batches() async throws {
        let bulk = try request(#"""
            [{"method":"POST","path":"/Groups","bulkId":"g","data":{"displayName":"G","members":[{"value":"bulkId:c"}]}},
             {"method":"POST","path":"/Users","bulkId":"a","data":{"userName":"a"}},
             {"method":"POST","path":"/Users","bulkId":"b","data":{"userName":"b"}},
             {"method":"POST","path":"/Users","bulkId":"c","data":{"userName":"c"}},
             {"method":"POST","path":"/Users","bulkId":"d","data":{"userName":"d"}},
             {"method":"PATCH","path":"/Groups/bulkId:g","data":{"Operations":[]}},
             {"method":"POST","path":"/Users","bulkId":"e","data":{"userName":"e"}},
             {"method":"POST","path":"/Users","bulkId":"f","data":{"userName":"bulkId:a"}},
             {"method":"POST","path":"/Users","bulkId":"h","data":{"userName":"h"}}]
            """#)
        let log = Log()
        let results = await BulkProcessor(bulk).run(
            batchable: { $0.method == .post && $0.target.endpoint == "Users" },
            performBatch: { operations, budget in
                log.order.append("batch " + operations.compactMap(\.bulkID).joined(separator: ","))
                log.budgets.append(budget)
                return operations.map { BulkResult(status: 201, id: "id-\($0.bulkID ?? "")") }
            },
            perform: { operation in
                log.order.append("\(operation.method.rawValue) \(operation.bulkID ?? operation.path)")
                return BulkResult(status: operation.method == .post ? 201 : 200, id: "id-\(operation.bulkID ?? "")")
            })
        // c ran first for g; a, b and d then form one run (c already done), e runs alone (f refers to a).
        #expect(log.order == ["POST c", "POST g", "batch a,b,d", "PATCH /Groups/id-g", "POST e", "POST f", "POST h"])
        #expect(log.budgets == [nil])
        #expect(results.map(\.operation.bulkID) == ["g", "a", "b", "c", "d", nil, "e", "f", "h"])
        #expect(results[7].operation.data?["userName"] == "id-a")
    }

    @Test("failOnErrors: a batch gets the errors left, and results after the one that spends them are dropped")
    func batchBudget() async throws {
        let bulk = try request(#"""
            [{"method":"DELETE","path":"/Users/1"},
             {"method":"POST","path":"/Users","bulkId":"a","data":{}},
             {"method":"POST","path":"/Users","bulkId":"b","data":{}},
             {"method":"POST","path":"/Users","bulkId":"c","data":{}},
             {"method":"DELETE","path":"/Users/2"}]
            """#, failOnErrors: 3)
        let log = Log()
        let results = await BulkProcessor(bulk).run(
            batchable: { $0.method == .post },
            performBatch: { operations, budget in
                log.budgets.append(budget)
                return operations.map { BulkResult.failed(.uniqueness("taken \($0.bulkID ?? "")")) }
            },
            perform: { operation in
                log.order.append(operation.path)
                return .failed(.notFound("gone"))
            })
        #expect(log.budgets == [2])
        #expect(log.order == ["/Users/1"])
        #expect(results.map(\.result.status) == [404, 409, 409])
    }

    @Test("the response carries method, bulkId, status as a string, location, version, and the error when one failed")
    func response() {
        let post = BulkRequest.Operation(method: .post, bulkID: "u", path: "/Users", data: [:])
        let put = BulkRequest.Operation(method: .put, path: "/Users/1", data: [:])
        let body = BulkRequest.response([
            (post, BulkResult(status: 201, id: "1", location: "https://x/Users/1", version: #"W/"1""#)),
            (put, .failed(.preconditionFailed("stale"), location: "https://x/Users/1")),
        ])
        #expect(body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:BulkResponse"])
        let first = body["Operations"]?.arrayValue?[0]
        #expect(first == ["method": "POST", "bulkId": "u", "status": "201", "location": "https://x/Users/1", "version": #"W/"1""#])
        let second = body["Operations"]?.arrayValue?[1]
        #expect(second?["status"] == "412")
        #expect(second?["response"]?["status"] == "412")
        #expect(second?["bulkId"] == nil)
    }
}
