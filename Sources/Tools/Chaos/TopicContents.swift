import Foundation

/// One Kafka message as the broker holds it. Two offsets holding equal messages hold the same message: the
/// broker wrote it twice (a retried produce), or the producer sent the same bytes twice.
struct TopicMessage: Hashable {
    /// nil: a null key or value (Kafka distinguishes it from an empty one).
    var key: Data?
    var value: Data?
    /// The headers as kcat prints them ("name=value,…"), empty when there are none.
    var headers: Data
}

/// A topic read back from the broker with kcat (not the project's Kafka client) once nothing is produced to it
/// any more: every message it still holds, at its offset.
struct TopicContents {
    var messages: [Offset: TopicMessage] = [:]
    /// Per partition, the first offset the broker still held. Anything below it was dropped by the development
    /// broker's retention before it could be read.
    var firstOffsets: [Int: Int] = [:]

    /// Reads every partition of `topic` from its beginning to its end.
    ///
    /// Each message is printed as a line "PARTITION OFFSET KEY_LENGTH VALUE_LENGTH" (length -1 for null), then the
    /// key's and the value's bytes, then the headers and a marker line. The lengths make binary keys and values
    /// unambiguous; the headers, which kcat prints without a length, end at a marker drawn at random for this
    /// read, so no message can contain it by accident.
    /// kcat's output is kept in `copyPath`: the topic as the oracle saw it, for whoever looks into a failed run
    /// (the broker keeps nothing once the campaign ends).
    static func read(kcat: String, brokers: String, topic: String, copyPath: String) throws -> TopicContents {
        let marker = "~end-\(UInt64.random(in: 1...UInt64.max))~"
        let format = "%p %o %K %S\\n%k%s%h\(marker)\\n"
        let result: CommandResult
        do {
            result = try Command.output(
                kcat, ["-C", "-b", brokers, "-t", topic, "-o", "beginning", "-e", "-f", format],
                timeoutSeconds: ChaosLimits.topicReadTimeoutSeconds)
        } catch {
            throw CampaignError("reading \(topic) back: \(error)")
        }
        guard FileManager.default.createFile(atPath: copyPath, contents: result.output) else {
            throw CampaignError("cannot write \(copyPath)")
        }
        var parser = FramedOutput(bytes: result.output, marker: Data((marker + "\n").utf8))
        var contents = TopicContents()
        while !parser.isAtEnd {
            let (offset, message) = try parser.nextMessage(topic: topic)
            guard contents.messages.updateValue(message, forKey: offset) == nil else {
                throw CampaignError("kcat printed \(topic) \(offset) twice")
            }
            contents.firstOffsets[offset.partition] = min(
                contents.firstOffsets[offset.partition] ?? .max, offset.offset)
        }
        return contents
    }
}

/// kcat's output in the format of `TopicContents.read`, taken apart message by message.
private struct FramedOutput {
    let bytes: Data
    let marker: Data
    var position: Int

    init(bytes: Data, marker: Data) {
        self.bytes = bytes
        self.marker = marker
        position = bytes.startIndex
    }

    var isAtEnd: Bool { position >= bytes.endIndex }

    mutating func nextMessage(topic: String) throws -> (Offset, TopicMessage) {
        let start = position
        guard let newline = bytes[position...].firstIndex(of: 0x0A) else {
            throw malformed(topic, at: start, "a line without its end")
        }
        let fields = String(decoding: bytes[position..<newline], as: UTF8.self).split(separator: " ").compactMap {
            Int($0)
        }
        guard fields.count == 4 else { throw malformed(topic, at: start, "a header line that is not four numbers") }
        position = newline + 1
        let key = try take(length: fields[2], topic: topic, at: start)
        let value = try take(length: fields[3], topic: topic, at: start)
        guard let end = bytes[position...].firstRange(of: marker) else {
            throw malformed(topic, at: start, "headers without the end marker")
        }
        let headers = Data(bytes[position..<end.lowerBound])
        position = end.upperBound
        return (Offset(partition: fields[0], offset: fields[1]), TopicMessage(key: key, value: value, headers: headers))
    }

    /// `length` bytes, or nil for a null field (length -1).
    private mutating func take(length: Int, topic: String, at start: Int) throws -> Data? {
        guard length >= 0 else { return nil }
        guard bytes.endIndex - position >= length else {
            throw malformed(topic, at: start, "\(length) bytes announced, fewer printed")
        }
        defer { position += length }
        return Data(bytes[position..<position + length])
    }

    private func malformed(_ topic: String, at start: Int, _ problem: String) -> CampaignError {
        CampaignError("kcat's output for \(topic) is malformed at byte \(start - bytes.startIndex): \(problem)")
    }
}
