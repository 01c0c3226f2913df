import Foundation

/// Gives the memory of drained prefetch queues back to the operating system.
///
/// While ingest catches up on a backlog, librdkafka holds up to `IngestLimits.fetchQueueKilobytesMax` of fetched
/// messages. Once they are consumed and freed, glibc keeps the freed chunks in its arenas (librdkafka's threads
/// each have one) rather than returning them, so the process stayed at its catch-up size for good: 215 MiB
/// resident after a backlog of 300,000 messages of the mix, 119 MiB once `malloc_trim` ran (measured by calling
/// it from a debugger, issue 12). Trimming walks every arena, so it runs only when a batch shows the backlog is
/// drained, after enough messages to be worth it, and not more often than `IngestLimits.memoryTrimIntervalSeconds`.
struct FetchMemoryReturn {
    private var messagesSinceTrim = 0
    private var lastTrim = DispatchTime.now()

    /// Notes a batch of `messages`; returns whether memory was trimmed.
    mutating func noteBatch(messages: Int) -> Bool {
        messagesSinceTrim += messages
        let secondsSinceTrim = Double(DispatchTime.now().uptimeNanoseconds - lastTrim.uptimeNanoseconds) / 1e9
        guard messages < IngestLimits.drainedBatchMessagesMax,
            messagesSinceTrim >= IngestLimits.memoryTrimAfterMessages,
            secondsSinceTrim >= IngestLimits.memoryTrimIntervalSeconds
        else { return false }
        messagesSinceTrim = 0
        lastTrim = .now()
        guard let trim = Self.mallocTrim else { return false }
        _ = trim(0)
        return true
    }

    /// glibc's `malloc_trim`, looked up at run time: Swift's Glibc module leaves out `malloc.h`, and a C target
    /// for one function would be a second owner of the C library. nil where the C library has none (musl).
    private static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
    }()
}
