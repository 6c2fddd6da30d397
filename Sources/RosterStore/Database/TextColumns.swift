package import PostgresNIO
import RosterAuth
import SCIM

/// An enum stored as its raw text. A value the enum does not know is a decoding error, never a default: a row
/// that says something Roster cannot read must not be read as something else.
package protocol TextColumn: RawRepresentable, PostgresCodable, PostgresArrayEncodable, PostgresArrayDecodable where RawValue == String {}

extension TextColumn {
    package static var psqlType: PostgresDataType { .text }
    package static var psqlArrayType: PostgresDataType { .textArray }
    package static var psqlFormat: PostgresFormat { .binary }

    package func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        buffer.writeString(rawValue)
    }

    package init<JSONDecoder: PostgresJSONDecoder>(
        from buffer: inout ByteBuffer, type: PostgresDataType, format: PostgresFormat, context: PostgresDecodingContext<JSONDecoder>
    ) throws {
        guard let value = Self(rawValue: try String(from: &buffer, type: type, format: format, context: context)) else {
            throw PostgresDecodingError.Code.failure
        }
        self = value
    }
}

extension MemberType: TextColumn {}
extension WebhookDelivery.Outcome: TextColumn {}
extension AdminScope: TextColumn {}
extension RateLimitedAPI: TextColumn {}
extension EventType: TextColumn {}
extension WebhookFormat: TextColumn {}
