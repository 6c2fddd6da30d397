@testable import RosterServer
import Testing

/// How a credential is read off a header: HTTP's optional whitespace around it goes, anything inside stays,
/// so a header that pads or splits a token never authenticates as some other token.
@Suite("Credentials are read with their surrounding spaces and tabs removed, and nothing else")
struct PresentedCredentialTests {
    @Test("trimmedSpace drops leading and trailing spaces and tabs only", arguments: [
        ("scim_abc", "scim_abc"),
        ("  scim_abc", "scim_abc"),
        ("scim_abc\t \t", "scim_abc"),
        ("\t scim_abc  ", "scim_abc"),
        // Inside, a space or tab is part of what was sent: the lookup then fails, it is never repaired.
        ("scim_a bc", "scim_a bc"),
        (" scim_a\tbc ", "scim_a\tbc"),
        ("", ""),
        ("   ", ""),
        ("\t\t", ""),
        // Only HTTP's OWS (space, horizontal tab): other whitespace is not optional whitespace and stays.
        ("\u{00A0}scim_abc", "\u{00A0}scim_abc"),
        ("scim_abc\n", "scim_abc\n"),
    ])
    func trimmed(sent: String, read: String) {
        #expect(PresentedCredential.trimmedSpace(sent[...]) == read[...])
    }
}
