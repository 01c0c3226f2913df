// TEMPORARY stub until the validator lands.
public enum MessageValidator {
    public static let version = 1
    public static func validate(_ value: UnsafeRawBufferPointer?) -> Result<Transaction, Rejection> { .failure(Rejection(.invalidJSON)) }
}
enum RFC3339 { static func format(microsecondsSinceEpoch: Int64) -> String { "" } }
