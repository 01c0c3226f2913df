import Foundation

/// Every bound of the object store client, each with its unit in its name.
public enum ObjectStoreLimits {
    /// Attempts of one request while the store is unreachable or answers 5xx/429, then the error is thrown.
    /// The archive's own schedule retries later, so this only rides over a blip.
    public static let requestAttemptsMax = 4
    /// The first wait between attempts; it doubles after each (0.25, 0.5, 1 s).
    public static let retryBackoffSeconds = 0.25
    /// Longest wait for a connection to the store.
    public static let connectTimeoutSeconds = 10
    /// A transfer slower than this many bytes a second for `stalledSecondsMax` is abandoned (and retried).
    public static let stalledBytesPerSecondBelow = 1024
    public static let stalledSecondsMax = 30
    /// Longest wait for a store's "100 Continue" before a large body is sent anyway (libcurl asks for one above
    /// 1 MiB; S3 answers at once, some S3-compatible servers never do).
    public static let expectContinueWaitMilliseconds = 200
    /// Most bytes of an error response quoted in an error's context.
    public static let errorBodyBytesKeptMax = 512
    /// Most pages one listing may take (S3 returns up to 1,000 keys a page: 10M objects in one folder). A store
    /// that keeps answering "truncated" would otherwise keep the archive run listing forever.
    public static let listPagesMax = 10_000
}

/// Where an `s3://bucket/prefix` URL points: the bucket, the key prefix, the endpoint and the region.
///
/// The endpoint comes from `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` (any S3-compatible store; addressed
/// path-style, `endpoint/bucket/key`, which they all accept), else AWS itself (`https://bucket.s3.region...`).
/// The region comes from `AWS_REGION` or `AWS_DEFAULT_REGION`, else us-east-1. These are the AWS CLI's and SDKs'
/// variables, so one environment serves both.
public struct S3Location: Sendable, Equatable {
    public var bucket: String
    /// The key prefix, empty or ending in "/".
    public var prefix: String
    public var region: String
    /// The store's base URL without a trailing "/", nil for AWS.
    public var endpoint: String?

    /// The URL as the operator wrote it, for messages.
    public var url: String { "s3://\(bucket)/\(prefix)" }

    public init(url: String, environment: [String: String]) throws {
        guard url.hasPrefix("s3://") else {
            throw ObjectStoreError(.misconfigured, "an S3 URL starts with s3://", [("url", url)])
        }
        let rest = url.dropFirst("s3://".count)
        let bucket = String(rest.prefix { $0 != "/" })
        guard S3Location.isBucketName(bucket) else {
            throw ObjectStoreError(
                .misconfigured, "not an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens)",
                [("url", url), ("bucket", bucket)])
        }
        var prefix = String(rest.dropFirst(bucket.count).drop { $0 == "/" })
        if !prefix.isEmpty && !prefix.hasSuffix("/") { prefix += "/" }
        self.bucket = bucket
        self.prefix = prefix
        self.region = environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? "us-east-1"
        let endpoint = environment["AWS_ENDPOINT_URL_S3"] ?? environment["AWS_ENDPOINT_URL"]
        if let endpoint, !(endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://")) {
            throw ObjectStoreError(
                .misconfigured, "the S3 endpoint must be an http:// or https:// URL", [("endpoint", endpoint)])
        }
        self.endpoint = endpoint.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
    }

    /// The request URL for `key` below the prefix (or the bucket itself when nil), with `query` sorted by name
    /// and every part percent-encoded as Signature Version 4's canonical request requires.
    func requestURL(key: String?, query: [(String, String)] = []) -> String {
        let path = key.map {
            (prefix + $0).split(separator: "/", omittingEmptySubsequences: false).map {
                S3Location.encode(String($0))
            }.joined(separator: "/")
        }
        let base = endpoint.map { "\($0)/\(bucket)" } ?? "https://\(bucket).s3.\(region).amazonaws.com"
        let target = path.map { "\(base)/\($0)" } ?? "\(base)/"
        guard !query.isEmpty else { return target }
        let sorted = query.sorted { $0.0 < $1.0 }.map { "\(S3Location.encode($0.0))=\(S3Location.encode($0.1))" }
        return target + "?" + sorted.joined(separator: "&")
    }

    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")

    static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    static func isBucketName(_ name: String) -> Bool {
        (3...63).contains(name.count)
            && name.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "." || $0 == "-") }
    }
}

/// The credentials S3 requests are signed with: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and, for temporary
/// credentials, `AWS_SESSION_TOKEN`, each also readable from a file named by the same variable with `_FILE`
/// appended (a mounted secret), as `DATABASE_URL_FILE` is.
public struct S3Credentials: Sendable {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    public init(environment: [String: String]) throws {
        guard let key = try Self.value("AWS_ACCESS_KEY_ID", environment),
            let secret = try Self.value("AWS_SECRET_ACCESS_KEY", environment)
        else {
            throw ObjectStoreError(
                .misconfigured,
                "an s3:// archive needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or their *_FILE variants)")
        }
        self.init(
            accessKeyID: key, secretAccessKey: secret, sessionToken: try Self.value("AWS_SESSION_TOKEN", environment))
    }

    /// The variable's value, or the contents of the file `<name>_FILE` names without its trailing newline.
    private static func value(_ name: String, _ environment: [String: String]) throws -> String? {
        if let value = environment[name], !value.isEmpty { return value }
        guard let path = environment[name + "_FILE"] else { return nil }
        guard let contents = FileManager.default.contents(atPath: path) else {
            throw ObjectStoreError(
                .misconfigured, "cannot read a credentials file", [("variable", name + "_FILE"), ("path", path)])
        }
        let text = String(decoding: contents, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }
}
