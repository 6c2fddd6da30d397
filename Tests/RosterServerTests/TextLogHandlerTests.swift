import Foundation
import Logging
import Synchronization
import Testing

@testable import RosterServer

@Suite("The text log format is StreamLogHandler's line, with metadata formatted only when a line is written")
struct TextLogHandlerTests {
    final class Lines: Sendable {
        let written = Mutex<[String]>([])
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String { "the receiver refused" }
    }

    @Test("time, level, label, sorted metadata (the logger's, then the line's over it), source, message")
    func line() throws {
        let lines = Lines()
        var logger = Logger(label: "roster") { label in TextLogHandler(label: label) { line in lines.written.withLock { $0.append(line) } } }
        logger[metadataKey: "tenant_id"] = "t-1"
        logger[metadataKey: "request_id"] = "r-1"
        logger.debug("below the level")
        logger.info("created", metadata: ["tenant_id": "t-2", "user": "u-1"])
        logger.warning("failed", error: Failure())
        let written = lines.written.withLock { $0 }
        try #require(written.count == 2)
        let pattern = #/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{4} /#
        #expect(written.allSatisfy { $0.prefixMatch(of: pattern) != nil && $0.hasSuffix("\n") })
        #expect(written[0].drop(while: { $0 != " " }) == " info roster: request_id=r-1 tenant_id=t-2 user=u-1 [RosterServerTests] created\n")
        #expect(written[1].drop(while: { $0 != " " }) == " warning roster: error.message=the receiver refused error.type=RosterServerTests.TextLogHandlerTests.Failure request_id=r-1 tenant_id=t-1 [RosterServerTests] failed\n")
    }

    @Test("a logger without metadata writes no metadata field")
    func bare() {
        let lines = Lines()
        let logger = Logger(label: "") { label in TextLogHandler(label: label) { line in lines.written.withLock { $0.append(line) } } }
        logger.error("stopped")
        #expect(lines.written.withLock { $0.first?.drop(while: { $0 != " " }) } == " error: [RosterServerTests] stopped\n")
    }
}
