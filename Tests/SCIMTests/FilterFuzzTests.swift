import SCIM
import Testing

@Suite("Filter parser robustness")
struct FilterFuzzTests {
    static let seeds = [
        #"userName eq "bjensen""#, #"name.familyName co "O'Malley""#, #"title pr and userType eq "Employee""#,
        #"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
        #"not (meta.lastModified gt "2011-05-13T04:42:34Z") and active eq true"#, #"x ge 1.5e3 or y lt -2"#,
        #"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
    ]
    static let alphabet = Array(#" ()[]"\.:-_aeqnotrpAND01"#)

    /// A deterministic generator, so a failure reproduces.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test("thousands of mutated filters parse or fail with invalidFilter, never crash")
    func mutations() {
        var random = SplitMix(state: 7)
        var parsed = 0
        for round in 0..<5000 {
            var text = Array(Self.seeds[round % Self.seeds.count])
            for _ in 0..<Int.random(in: 1...6, using: &random) {
                let position = text.isEmpty ? 0 : Int.random(in: 0..<text.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0 where !text.isEmpty: text.remove(at: position)
                case 1: text.insert(Self.alphabet.randomElement(using: &random)!, at: position)
                default: if !text.isEmpty { text[position] = Self.alphabet.randomElement(using: &random)! }
                }
            }
            do {
                _ = try FilterParser.parse(String(text))
                parsed += 1
            } catch {
                #expect(error.scimType == .invalidFilter, "\(String(text))")
            }
        }
        // The mutations must exercise both outcomes, or the test proves nothing.
        #expect(parsed > 50)
        #expect(parsed < 4950)
    }

    @Test("random byte soup fails cleanly")
    func soup() {
        var random = SplitMix(state: 11)
        for _ in 0..<2000 {
            let length = Int.random(in: 0..<80, using: &random)
            let text = String((0..<length).map { _ in Character(Unicode.Scalar(UInt8.random(in: 32...126, using: &random))) })
            do {
                _ = try FilterParser.parse(text)
            } catch {
                #expect(error.scimType == .invalidFilter)
            }
        }
    }
}
