import Testing
@testable import RosterAuth

@Suite("Admin passwords")
struct PasswordHasherTests {
    let hasher = PasswordHasher(cost: 4)

    @Test("a hash verifies its own password and no other")
    func verifies() async {
        let hash = await hasher.hash("correct horse battery")
        #expect(hash.hasPrefix("$2b$04$"))
        #expect(await hasher.verify("correct horse battery", hash: hash))
        #expect(!(await hasher.verify("correct horse batterY", hash: hash)))
    }

    @Test("the same password hashes differently each time (salted)")
    func salted() async {
        let first = await hasher.hash("correct horse battery")
        let second = await hasher.hash("correct horse battery")
        #expect(first != second)
    }

    @Test("short and over-long passwords are refused with a reason")
    func lengths() {
        #expect(PasswordHasher.problem(with: "short") != nil)
        #expect(PasswordHasher.problem(with: String(repeating: "x", count: 73)) != nil)
        #expect(PasswordHasher.problem(with: "twelve chars") == nil)
    }
}
