import Foundation
import Ledger
import OperatingErrors

/// One ledger directory the projector reads: a `LedgerReader` (read-only, concurrent with ledger-ingest, up to
/// the durable LSN) and a cursor that runs ahead of the warehouse's checkpoint by the batches in flight.
final class LedgerSource {
    let directory: String
    private(set) var reader: LedgerReader?
    private var cursor: LedgerCursor?
    /// The last LSN of this ledger the warehouse holds (committed).
    private(set) var checkpoint: UInt64 = 0
    /// The last LSN handed to a batch (committed or in flight): the cursor continues after it.
    private(set) var readThrough: UInt64 = 0
    /// The newest batch of this ledger in flight: the next batch commits only after it.
    var lastSubmitted: BatchCompletion?
    /// The reader's index generation when the cursor was placed: a new index (`rebuild index`) may say another
    /// durable LSN, so the position is checked against it again.
    private var positionedOnIndexGeneration = 0

    init(directory: String) {
        self.directory = directory
    }

    var ledgerID: UUID? { reader?.ledgerID }

    /// Opens the ledger. A directory without a ledger yet (ledger-ingest has not started, or is creating it) is
    /// `.ledgerUnavailable`, which the projector waits out; anything else the ledger reports is fatal.
    @discardableResult
    func open() throws -> LedgerReader {
        if let reader { return reader }
        let opened = try reading { try LedgerReader(directory: directory) }
        reader = opened
        return opened
    }

    /// Places the cursor right after `checkpoint`, the warehouse's word on where this ledger stands.
    func position(after checkpoint: UInt64) throws {
        let reader = try open()
        self.checkpoint = checkpoint
        readThrough = checkpoint
        lastSubmitted = nil
        positionedOnIndexGeneration = reader.indexGeneration
        cursor = reader.cursor(from: checkpoint + 1)
    }

    /// Forgets the cursor: after any failure the checkpoint is re-read from the warehouse before reading on.
    func invalidate() {
        cursor = nil
        lastSubmitted = nil
    }

    var isPositioned: Bool { cursor != nil }

    /// The records after `readThrough`, at most `maxRecords`, never past `limit`. When more than one LSN block
    /// is available the range ends on a block boundary, so that a batch id's rows are usually one transaction.
    func nextEntries(maxRecords: Int, through limit: UInt64 = .max) throws -> [LedgerEntry] {
        guard let cursor else { preconditionFailure("position the cursor before reading") }
        precondition(cursor.nextLSN == readThrough + 1, "the cursor follows what was handed out")
        let first = readThrough + 1
        let last = first + UInt64(maxRecords) - 1
        let blockEnd = last - last % ProjectorLimits.batchLSNBlockSize
        return try reading {
            try cursor.next(maxRecords: maxRecords, through: min(limit, blockEnd >= first ? blockEnd : last))
        }
    }

    /// Records that a batch ending at `lastLSN` was handed to the loaders.
    func handedOut(through lastLSN: UInt64, completion: BatchCompletion) {
        precondition(lastLSN > readThrough, "batches only move forward")
        readThrough = lastLSN
        lastSubmitted = completion
    }

    /// Records that `lastLSN` is now in the warehouse.
    func committed(through lastLSN: UInt64) {
        precondition(
            lastLSN > checkpoint && lastLSN <= readThrough, "checkpoints move forward, never past what was read")
        checkpoint = lastLSN
    }

    /// The ledger's durable LSN. When the reader found its index replaced since the cursor was placed, throws
    /// `.checkpointMoved`: the loop then re-reads the checkpoint and checks it against the new index (which
    /// stops the projector if the warehouse holds LSNs the ledger no longer has) before reading on.
    func durableLSN() throws -> UInt64 {
        let reader = try open()
        let durable = try reading { try reader.durableLSN() }
        if isPositioned, reader.indexGeneration != positionedOnIndexGeneration {
            invalidate()
            throw ProjectorError(
                .checkpointMoved,
                "the ledger's index was replaced (ledger-tool rebuild index): re-reading where this ledger stands",
                [
                    ("ledger.id", reader.ledgerID.uuidString.lowercased()), ("ledger.path", directory),
                    ("ledger.durable_lsn", String(durable)),
                ])
        }
        return durable
    }

    /// Runs a read of the ledger, its errors in the projector's terms: a ledger not created yet is
    /// `.ledgerUnavailable` (waited out), anything else `.ledger` (fatal).
    private func reading<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as LedgerError where error.code == .notCreated {
            throw ProjectorError(
                .ledgerUnavailable, "no ledger in this directory yet", [("ledger.path", directory)] + error.context)
        } catch let error as LedgerError {
            throw ProjectorError(ledger: error, directory: directory)
        }
    }
}
