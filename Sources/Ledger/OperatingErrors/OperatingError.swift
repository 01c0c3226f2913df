/// The one shape of an operating error across Pulse Ledger: a disk, broker, database or input fault, thrown with
/// a stable code and the context to act on it (path, offset, LSN, partition, expected vs found, SQL state).
/// Bugs are not errors: they are `precondition` failures.
///
/// Each area names its own domain (`LedgerError`, `KafkaError`, `IngestError`, `WarehouseError`) and its codes,
/// as static members of `Code` in an extension constrained to that domain, so `LedgerError(.io, …)` reads as it
/// did and new codes never break callers that switch on the ones they know. Extra questions an area asks of its
/// errors (is it transient? what SQL state?) are extensions of its domain too.
public struct OperatingError<Domain: ErrorDomain>: Error, Sendable, CustomStringConvertible {
    /// A stable code: part of what operators and dashboards match on. Never renamed.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }
    }

    public let code: Code
    public let message: String
    /// Where it happened: path, segment, byte offset, LSN, partition, expected and found values, errno. Never a
    /// password.
    public let context: [(String, String)]

    public init(_ code: Code, _ message: String, _ context: [(String, String)] = []) {
        self.code = code
        self.message = message
        self.context = context
    }

    /// The value of one context entry.
    public func context(_ key: String) -> String? { context.first { $0.0 == key }?.1 }

    public var description: String {
        let details = context.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
        let head = "\(Domain.descriptionPrefix)\(code): \(message)"
        return details.isEmpty ? head : "\(head) (\(details))"
    }
}

/// An area of Pulse Ledger with its own error codes.
public protocol ErrorDomain: Sendable {
    /// Put before the code in descriptions, when the code alone would not say where it comes from (librdkafka's
    /// error names, say).
    static var descriptionPrefix: String { get }
}

extension ErrorDomain {
    public static var descriptionPrefix: String { "" }
}
