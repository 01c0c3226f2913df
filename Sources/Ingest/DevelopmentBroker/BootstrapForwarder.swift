import FlyingSocks
import Foundation

/// Listens on 127.0.0.1:`port` and relays every connection to the mock cluster's first broker, so that
/// `dev-broker --port P` offers a fixed bootstrap address (librdkafka 2.0.2's mock cluster picks its own ports
/// and cannot be told one). Only bootstrap traffic passes through it: clients learn the brokers' own addresses
/// from the metadata and connect to those directly, exactly as with a real cluster behind a load balancer.
public final class BootstrapForwarder: @unchecked Sendable {
    /// Bytes relayed per read: Kafka requests and responses are framed by the protocol, not by reads.
    static let relayChunkBytes = 64 << 10

    private let listener: Socket
    private let targetHost: String
    private let targetPort: UInt16

    /// `target` is `host:port` of the broker to relay to. Throws when the port is taken.
    public init(port: UInt16, target: String) throws {
        let parts = target.split(separator: ":")
        guard parts.count == 2, let targetPort = UInt16(parts[1]) else {
            throw ForwarderError("the mock cluster's bootstrap address is not host:port: \(target)")
        }
        targetHost = String(parts[0])
        self.targetPort = targetPort
        listener = try Socket(domain: AF_INET, type: .stream)
        try listener.setValue(true, for: .localAddressReuse)
        do {
            try listener.bind(to: .inet(ip4: "127.0.0.1", port: port))
        } catch {
            throw ForwarderError("cannot listen on 127.0.0.1:\(port) (is the port taken?): \(error)")
        }
        try listener.listen()
    }

    /// Accepts connections on a thread of its own until the process exits.
    public func start() {
        Thread { [self] in
            while let accepted = try? listener.accept() {
                relay(Socket(file: accepted.file))
            }
        }.start()
    }

    private func relay(_ client: Socket) {
        let upstream: Socket
        do {
            upstream = try Socket(domain: AF_INET, type: .stream)
            try upstream.connect(to: .inet(ip4: targetHost, port: targetPort))
        } catch {
            try? client.close()
            return
        }
        let pair = SocketPair(client, upstream)
        Thread { pair.pump(from: client, to: upstream) }.start()
        Thread { pair.pump(from: upstream, to: client) }.start()
    }
}

/// The two ends of one relayed connection. Each direction runs on its own thread; when either ends, both
/// sockets are shut down (which ends the other direction), and the last thread out closes them, so that no
/// descriptor is closed while the other thread may still use it.
private final class SocketPair: @unchecked Sendable {
    private let sockets: (Socket, Socket)
    private let lock = NSLock()
    private var running = 2

    init(_ first: Socket, _ second: Socket) {
        sockets = (first, second)
    }

    func pump(from source: Socket, to destination: Socket) {
        while let bytes = try? source.read(atMost: BootstrapForwarder.relayChunkBytes),
            (try? Self.writeAll(bytes, to: destination)) != nil
        {}
        shutdown(sockets.0.file.rawValue, Int32(SHUT_RDWR))
        shutdown(sockets.1.file.rawValue, Int32(SHUT_RDWR))
        lock.lock()
        running -= 1
        let last = running == 0
        lock.unlock()
        if last {
            try? sockets.0.close()
            try? sockets.1.close()
        }
    }

    private static func writeAll(_ bytes: [UInt8], to destination: Socket) throws {
        let data = Data(bytes)
        var index = data.startIndex
        while index < data.endIndex { index = try destination.write(data, from: index) }
    }
}

struct ForwarderError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
