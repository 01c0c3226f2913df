/// Every bound on a message and the values it carries, in one place, each with its unit in its name and the
/// reason beside it. The ledger, the writer's checks and the projector use these same values (DESIGN.md
/// invariant 8).
public enum MessageLimits {
    /// Largest message value accepted, in bytes. Kafka's default `message.max.bytes` is about 1 MiB, and a
    /// transaction of six short fields is a few hundred bytes: anything near this is not a transaction.
    public static let messageBytesMax = 1 << 20
    /// Most characters in customer_id and product_category: the warehouse columns are VARCHAR(50).
    public static let textFieldCharactersMax = 50
    /// Most UTF-8 bytes of a rejection's field (the offending key, which comes from the producer), cut at a
    /// character boundary by `Rejection.init`: the record codec stores the field as text of at most this length,
    /// and dead-letter headers carry it. A cut mid-character once made a record the decoder refused (issue 11).
    public static let rejectionFieldBytesMax = 255
    /// The JSON text of the members outside the schema a message may keep (`UnknownFieldPolicy.keep`); a message
    /// with more is rejected as `unknown_field`, since keeping part of them would change what it said.
    public static let extraMembersBytesMax = 16 << 10
    /// Most UTF-8 bytes of customer_id and product_category in a record: `textFieldCharactersMax` scalars of
    /// at most 4 bytes each.
    public static let textFieldBytesMax = textFieldCharactersMax * 4
    /// The instants a transaction's timestamp (and a record's ingest time) may name, in microseconds since the
    /// Unix epoch: 0001-01-01T00:00:00Z through 9999-12-31T23:59:59.999999Z. Checked on the UTC instant, after
    /// the producer's offset is applied ("0001-01-01T00:00:00+00:01" is year 0 in UTC). The validator, the
    /// writer and the projector check this one range (DESIGN.md invariant 8): what the ledger accepts, the
    /// warehouse takes. PostgreSQL could hold more; nothing outside is a real transaction time.
    public static let timestampMicrosecondsRange: ClosedRange<Int64> = -62_135_596_800_000_000...253_402_300_799_999_999
}
