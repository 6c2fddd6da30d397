import Crypto
public import Foundation

/// The operator's keys for secrets at rest (`ROSTER_SECRET_KEY` or `ROSTER_SECRET_KEY_FILE`): one current key that
/// seals, and older keys, by key id, that still open what they sealed until `roster secrets rotate` re-seals it.
///
/// The text form is `<key id>:<base64 of 32 bytes>` entries separated by commas or line breaks, the current key
/// first. A key id is 1–32 letters, digits, `.`, `_` or `-`. Nothing here ever prints key material: errors name an
/// entry by its position and key id only.
public struct SecretKeyring: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public static let keyByteCount = 32
    static let maximumKeyIDLength = 32

    public let currentKeyID: String
    /// Every key id, the current one first.
    public let keyIDs: [String]
    private let keys: [String: SymmetricKey]

    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Parses the text form; `source` names where it came from in errors (`ROSTER_SECRET_KEY`, a file's path).
    public init(parsing text: String, source: String = "ROSTER_SECRET_KEY") throws(Invalid) {
        let entries = text.split(whereSeparator: { $0 == "," || $0.isNewline }).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        guard !entries.isEmpty else {
            throw Invalid(description: "\(source) holds no key; it takes <key id>:<base64 of 32 bytes>, e.g. from `roster secrets generate-key`.")
        }
        var ids: [String] = []
        var keys: [String: SymmetricKey] = [:]
        for (index, entry) in entries.enumerated() {
            let position = "entry \(index + 1) of \(source)"
            // Split on the first colon only; never echo the entry, which may be a bare key pasted without its id.
            guard let colon = entry.firstIndex(of: ":") else {
                throw Invalid(description: "\(position) is not <key id>:<base64 of 32 bytes> (no key id).")
            }
            let id = String(entry[..<colon])
            guard Self.isValidKeyID(id) else {
                throw Invalid(description: "\(position) has a key id that is not 1–\(Self.maximumKeyIDLength) letters, digits, '.', '_' or '-'.")
            }
            guard keys[id] == nil else { throw Invalid(description: "\(position) repeats key id '\(id)'.") }
            guard let bytes = Self.base64(String(entry[entry.index(after: colon)...])) else {
                throw Invalid(description: "\(position) (key id '\(id)') is not base64.")
            }
            guard bytes.count == Self.keyByteCount else {
                throw Invalid(description: "\(position) (key id '\(id)') is \(bytes.count) bytes; a key is \(Self.keyByteCount) bytes (AES-256).")
            }
            ids.append(id)
            keys[id] = SymmetricKey(data: bytes)
        }
        self.currentKeyID = ids[0]
        self.keyIDs = ids
        self.keys = keys
    }

    /// A new entry in the text form, with fresh random key material.
    public static func generateEntry(keyID: String) -> String {
        precondition(isValidKeyID(keyID), "a key id is 1–32 letters, digits, '.', '_' or '-'")
        return keyID + ":" + SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString()
    }

    public static func isValidKeyID(_ id: String) -> Bool {
        (1...maximumKeyIDLength).contains(id.count)
            && id.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0)) }
    }

    /// Standard or URL-safe base64, padded or not.
    private static func base64(_ text: String) -> Data? {
        var normalized = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while normalized.count % 4 != 0 { normalized += "=" }
        return Data(base64Encoded: normalized)
    }

    // MARK: Sealing

    /// The stored form: version 1, the key id's length and the key id, then AES-256-GCM's nonce, ciphertext and tag.
    /// The header and `purpose` are the authenticated data, so a value copied to another row, or relabelled with
    /// another key id, does not open.
    static let version: UInt8 = 1

    public func seal(_ plaintext: Data, for purpose: SecretPurpose) -> Data {
        let header = Self.header(keyID: currentKeyID)
        // AES.GCM.seal only fails for a nonce or key of the wrong size, which this type never makes.
        let box = try! AES.GCM.seal(plaintext, using: keys[currentKeyID]!, authenticating: header + Data(purpose.label.utf8))
        return header + box.combined!
    }

    /// The plaintext of a value `seal` made for the same purpose with one of these keys.
    public func open(_ sealed: Data, for purpose: SecretPurpose) throws(SecretsAtRestError) -> Data {
        let keyID = try Self.keyID(of: sealed, for: purpose)
        guard let key = keys[keyID] else { throw .unknownKey(keyID: keyID, purpose: purpose) }
        let header = Self.header(keyID: keyID)
        do {
            let box = try AES.GCM.SealedBox(combined: sealed.dropFirst(header.count))
            return try AES.GCM.open(box, using: key, authenticating: header + Data(purpose.label.utf8))
        } catch {
            throw .cannotOpen(keyID: keyID, purpose: purpose)
        }
    }

    /// Which key sealed a stored value.
    public static func keyID(of sealed: Data, for purpose: SecretPurpose) throws(SecretsAtRestError) -> String {
        let bytes = [UInt8](sealed.prefix(2 + maximumKeyIDLength))
        guard bytes.count >= 2, bytes[0] == version, (1...maximumKeyIDLength).contains(Int(bytes[1])), bytes.count >= 2 + Int(bytes[1]),
            sealed.count >= 2 + Int(bytes[1]) + 12 + 16,
            let id = String(bytes: bytes[2..<(2 + Int(bytes[1]))], encoding: .utf8), isValidKeyID(id)
        else { throw .malformed(purpose: purpose) }
        return id
    }

    private static func header(keyID: String) -> Data {
        Data([version, UInt8(keyID.utf8.count)]) + Data(keyID.utf8)
    }

    public var description: String { "secret keyring (current key id \(currentKeyID); \(keyIDs.count) key(s), redacted)" }
    public var debugDescription: String { description }
}
