public import RosterStore

/// The secret key of a test run: what tests put in `ROSTER_SECRET_KEY`, and the keyring it parses to.
public enum TestSecrets {
    public static let entry = SecretKeyring.generateEntry(keyID: "test")
    public static let keyring = try! SecretKeyring(parsing: entry)
    public static var atRest: SecretsAtRest { .encrypted(keyring) }
}
