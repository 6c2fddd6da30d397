import RosterStore

/// The cursor signing key, read from the database once per process and shared by every replica.
actor CursorKeys {
    private let secrets: ServerSecrets
    private var cached: CursorCodec?

    init(secrets: ServerSecrets) {
        self.secrets = secrets
    }

    func codec() async throws -> CursorCodec {
        if let cached { return cached }
        let codec = CursorCodec(secret: try await secrets.cursorKey())
        cached = codec
        return codec
    }
}
