// libFuzzer target for the message validator and the RFC 3339 parser (see scripts/fuzz).
// No main.swift and no top-level code: with `--sanitize fuzzer` libFuzzer's own `main` drives this function.
import MessageSchema

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    if case .success(let transaction) = MessageValidator.validate(bytes) {
        checkInvariants(transaction)
    }
    if case .success(let timestamp) = RFC3339.parse(bytes) {
        checkRoundTrip(timestamp.microsecondsSinceEpoch)
    }
    return 0
}

/// What every accepted message must satisfy, whatever bytes produced it.
private func checkInvariants(_ transaction: Transaction) {
    precondition(
        transaction.amount.rawValue > 0 && transaction.amount <= Cents.maximum,
        "amount out of range: \(transaction.amount)")
    let currency = Array(transaction.currency.code.utf8)
    precondition(
        currency.count == 3 && currency.allSatisfy { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) },
        "currency: \(transaction.currency)")
    for (name, text) in [("customer_id", transaction.customerID), ("product_category", transaction.productCategory)] {
        let scalars = text.unicodeScalars.count
        precondition(scalars > 0 && scalars <= MessageLimits.textFieldCharactersMax, "\(name) has \(scalars) scalars")
    }
    checkRoundTrip(transaction.timestamp.microsecondsSinceEpoch)
}

/// RFC3339.format of an instant parses back to the same microseconds.
private func checkRoundTrip(_ microseconds: Int64) {
    let text = RFC3339.format(microsecondsSinceEpoch: microseconds)
    guard case .success(let parsed) = RFC3339.parse(text), parsed.microsecondsSinceEpoch == microseconds else {
        preconditionFailure("RFC 3339 round trip failed for \(microseconds) µs: \(text)")
    }
}
