/// Why the outbound policy will not connect to a URL; `sentence(subject:)` words it for the API, the CLI and logs.
public enum OutboundRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    case notHTTP
    case credentials
    /// The host (as written) is neither a valid host name nor an address.
    case invalidHost(String)
    case zoneIdentifier
    /// An allowed address written in a notation other than dotted decimal (`0x5db8d822`, `93.184.55198`).
    case nonstandardAddress(host: String, address: IPAddress)
    /// A special-use name for this machine or a private network.
    case privateName(String)
    /// The address (written as `written`, or found by resolving `host`) is one the policy denies.
    case deniedAddress(host: String?, address: IPAddress, AddressClass, written: String? = nil)
    /// The name has no address (checked when connecting; a name may be created before it resolves).
    case unresolvable(String)

    /// Whether the operator's allowance (`allowPrivate`) would let the URL through.
    public var operatorMayAllow: Bool {
        switch self {
        case .privateName: true
        case .deniedAddress(_, _, let addressClass, _): addressClass.use.operatorMayAllow
        default: false
        }
    }

    /// A denied literal, remembering how it was written.
    func written(as text: String) -> OutboundRefusal {
        guard case .deniedAddress(let host, let address, let addressClass, _) = self, text != address.description else { return self }
        return .deniedAddress(host: host, address: address, addressClass, written: text)
    }

    /// One sentence starting with `subject` (e.g. "'url'").
    public func sentence(subject: String) -> String {
        switch self {
        case .notHTTP: return "\(subject) must be an absolute http or https URL."
        case .credentials: return "\(subject) must not carry credentials."
        case .invalidHost(let host): return "\(subject) has the host '\(host)', which is neither a host name nor an address."
        case .zoneIdentifier: return "\(subject) must not carry an IPv6 zone identifier (it names an interface of this machine)."
        case .nonstandardAddress(let host, let address):
            return "\(subject) writes the address \(address) as '\(host)'; write an address in standard notation (\(address))."
        case .privateName(let name):
            return "\(subject) names '\(name)', a name for this machine or a private network, which this server does not connect to."
        case .deniedAddress(let host, let address, let addressClass, let written):
            let what = Self.describe(address, addressClass)
            if let host { return "\(subject) names '\(host)', which resolves to \(what), which this server does not connect to." }
            if let written { return "\(subject) points at '\(written)', that is \(what), which this server does not connect to." }
            return "\(subject) points at \(what), which this server does not connect to."
        case .unresolvable(let host): return "\(subject) names '\(host)', which does not resolve."
        }
    }

    public var description: String { sentence(subject: "the URL") }

    /// "127.0.0.1 (a loopback address)", or for an embedding "::ffff:7f00:1 (IPv4-mapped 127.0.0.1, a loopback address)".
    static func describe(_ address: IPAddress, _ addressClass: AddressClass) -> String {
        guard let (form, inner) = addressClass.embedded else { return "\(address) (\(addressClass.use.phrase))" }
        return "\(address) (\(form) \(inner), \(addressClass.use.phrase))"
    }
}
