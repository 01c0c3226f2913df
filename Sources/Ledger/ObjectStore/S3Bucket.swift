import CCurl
import Crypto
import Foundation
import OperatingErrors

/// The object store's area of operating errors: a request that failed, or a configuration that cannot work.
public enum ObjectStoreDomain: ErrorDomain {}

/// An operating error of the object store, in the project's one error shape.
public typealias ObjectStoreError = OperatingError<ObjectStoreDomain>

extension OperatingError.Code where Domain == ObjectStoreDomain {
    /// The store could not be reached, or answered with a server error, after every retry.
    public static var unavailable: Self { Self("store_unavailable") }
    /// The store refused the request (credentials, permissions, a missing bucket, a failed precondition).
    public static var refused: Self { Self("store_refused") }
    /// The URL or the settings do not describe a usable store (no credentials, a malformed URL).
    public static var misconfigured: Self { Self("store_misconfigured") }
}

/// One bucket (and key prefix) of an S3-compatible object store, spoken to over HTTP(S) through libcurl, which
/// signs every request itself (AWS Signature Version 4, `CURLOPT_AWS_SIGV4`). Requests are serialized on one
/// reused connection: the archive uploads one segment at a time, and a segment (64 MiB) fits one PUT.
///
/// Integrity: every PUT carries `Content-MD5`, which S3 checks before it stores the object; the caller reads the
/// object back and compares its SHA-256 besides (some S3-compatible stores ignore `Content-MD5`).
public final class S3Bucket: @unchecked Sendable {
    public let location: S3Location
    private let credentials: S3Credentials
    /// The one libcurl handle, owned here and freed in deinit; `lock` serializes its use.
    private let handle: UnsafeMutableRawPointer
    private let lock = NSLock()

    public init(_ location: S3Location, credentials: S3Credentials) throws {
        S3Bucket.initializeLibcurlOnce
        guard let handle = curl_easy_init() else {
            throw ObjectStoreError(.unavailable, "libcurl could not make a handle", [("url", location.url)])
        }
        self.location = location
        self.credentials = credentials
        self.handle = handle
    }

    deinit { curl_easy_cleanup(handle) }

    /// `curl_global_init` is not thread-safe and must run once before any handle is made.
    private static let initializeLibcurlOnce: Void = { _ = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    /// The object's bytes, or nil when there is no object under `key`.
    public func get(_ key: String) throws -> Data? {
        let response = try request("GET", key)
        switch response.status {
        case 200: return response.body
        case 404: return nil
        default: throw refusal("GET", key, response)
        }
    }

    /// Stores `data` under `key`, replacing any object there. S3 makes a PUT atomic: readers see the old object
    /// or the new one, never a part.
    public func put(_ key: String, _ data: Data) throws {
        let md5 = Data(Insecure.MD5.hash(data: data)).base64EncodedString()
        let response = try request("PUT", key, body: data, headers: ["Content-MD5: \(md5)"])
        guard response.status == 200 else { throw refusal("PUT", key, response) }
    }

    /// Deletes the object under `key`; deleting what is not there succeeds, as in S3.
    public func delete(_ key: String) throws {
        let response = try request("DELETE", key)
        guard response.status == 204 || response.status == 200 else { throw refusal("DELETE", key, response) }
    }

    /// Creates the bucket (tests and first set-up; in production the bucket is the store operator's). An existing
    /// bucket of the same owner is not an error.
    public func createBucket() throws {
        let response = try request("PUT", nil)
        let owned =
            response.status == 409 && String(decoding: response.body, as: UTF8.self).contains("BucketAlreadyOwnedByYou")
        guard response.status == 200 || owned else { throw refusal("PUT", "", response) }
    }

    /// What lies directly below `folder` (a key prefix ending in "/", or "" for the prefix's top): the folders,
    /// each without its trailing "/", and the objects with their sizes. One request per 1,000 names.
    public func list(folder: String) throws -> S3Listing {
        var listing = S3Listing()
        var token: String?
        var pages = 0
        repeat {
            pages += 1
            guard pages <= ObjectStoreLimits.listPagesMax else {
                throw ObjectStoreError(
                    .refused, "the object store's listing did not end",
                    [("url", location.url), ("folder", folder), ("pages", String(ObjectStoreLimits.listPagesMax))])
            }
            var query = [("list-type", "2"), ("delimiter", "/"), ("prefix", location.prefix + folder)]
            if let token { query.append(("continuation-token", token)) }
            let response = try request("GET", nil, query: query)
            guard response.status == 200 else { throw refusal("LIST", folder, response) }
            let page = try S3ListPage(response.body, url: location.url)
            let strip = location.prefix.count + folder.count
            listing.folders += page.folders.map { String($0.dropFirst(strip).dropLast()) }
            for object in page.objects { listing.objectBytes[String(object.key.dropFirst(strip))] = object.bytes }
            guard page.nextToken == nil || page.nextToken != token else {
                throw ObjectStoreError(
                    .refused, "the object store's listing repeated its continuation token",
                    [("url", location.url), ("folder", folder), ("token", token ?? "")])
            }
            token = page.nextToken
        } while token != nil
        return listing
    }

    // MARK: Requests

    struct Response {
        var status: Int
        var body: Data
    }

    /// One request, retried with backoff while the store is unreachable or answers 5xx or 429.
    private func request(
        _ method: String, _ key: String?, query: [(String, String)] = [], body: Data? = nil, headers: [String] = []
    ) throws -> Response {
        let url = location.requestURL(key: key, query: query)
        var attempt = 1
        while true {
            do {
                let response = try perform(method, url, body: body, headers: headers)
                let transient = response.status >= 500 || response.status == 429
                if !transient || attempt == ObjectStoreLimits.requestAttemptsMax { return response }
            } catch let error as ObjectStoreError where attempt < ObjectStoreLimits.requestAttemptsMax {
                _ = error
            }
            Thread.sleep(forTimeInterval: ObjectStoreLimits.retryBackoffSeconds * Double(1 << (attempt - 1)))
            attempt += 1
        }
    }

    private func perform(_ method: String, _ url: String, body: Data?, headers: [String]) throws -> Response {
        lock.lock()
        defer { lock.unlock() }
        curl_easy_reset(handle)
        let sink = ResponseSink()
        var headerList: UnsafeMutablePointer<curl_slist>?
        // S3 requires the payload's SHA-256 in a signed header (libcurl 7.88 does not add it): the store checks
        // the body against it, so a body damaged in transit is refused.
        let payloadHash = SHA256.hash(data: body ?? Data()).map { String(format: "%02x", $0) }.joined()
        // No "Expect:" header to turn off 100-continue: libcurl would sign it and not send it, and the signature
        // would not match. `expectContinueWaitMilliseconds` bounds the wait instead.
        let fixed = ["x-amz-content-sha256: \(payloadHash)", "Content-Type: application/octet-stream"]
        for header in headers + fixed {
            headerList = curl_slist_append(headerList, header)
        }
        if let token = credentials.sessionToken {
            headerList = curl_slist_append(headerList, "x-amz-security-token: \(token)")
        }
        defer { curl_slist_free_all(headerList) }
        var errorText = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let code: CURLcode = withExtendedLifetime(sink) {
            errorText.withUnsafeMutableBufferPointer { errorBuffer in
                (body ?? Data()).withUnsafeBytes { bodyBytes in
                    configure(method, url, headerList, errorBuffer.baseAddress!, sink)
                    if body != nil {
                        _ = pl_curl_set_offset(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bodyBytes.count))
                        _ = pl_curl_set_pointer(
                            handle, CURLOPT_POSTFIELDS, bodyBytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1))
                    }
                    return curl_easy_perform(handle)
                }
            }
        }
        guard code == CURLE_OK else {
            let detail = String(decoding: errorText.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw ObjectStoreError(
                .unavailable, "the object store could not be reached",
                [
                    ("url", url), ("method", method),
                    ("error", detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail),
                ])
        }
        var status = 0
        _ = pl_curl_response_code(handle, &status)
        return Response(status: status, body: sink.data)
    }

    private func configure(
        _ method: String, _ url: String, _ headers: UnsafeMutablePointer<curl_slist>?,
        _ errorBuffer: UnsafeMutablePointer<CChar>, _ sink: ResponseSink
    ) {
        _ = pl_curl_set_pointer(handle, CURLOPT_URL, url)
        _ = pl_curl_set_pointer(handle, CURLOPT_CUSTOMREQUEST, method)
        if method == "GET" { _ = pl_curl_set_long(handle, CURLOPT_HTTPGET, 1) }
        _ = pl_curl_set_pointer(handle, CURLOPT_HTTPHEADER, headers)
        _ = pl_curl_set_pointer(handle, CURLOPT_AWS_SIGV4, "aws:amz:\(location.region):s3")
        _ = pl_curl_set_pointer(handle, CURLOPT_USERNAME, credentials.accessKeyID)
        _ = pl_curl_set_pointer(handle, CURLOPT_PASSWORD, credentials.secretAccessKey)
        _ = pl_curl_set_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        // Threads: no signals for timeouts (libcurl's documented rule for multi-threaded programs).
        _ = pl_curl_set_long(handle, CURLOPT_NOSIGNAL, 1)
        _ = pl_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT, ObjectStoreLimits.connectTimeoutSeconds)
        _ = pl_curl_set_long(handle, CURLOPT_LOW_SPEED_LIMIT, ObjectStoreLimits.stalledBytesPerSecondBelow)
        _ = pl_curl_set_long(handle, CURLOPT_LOW_SPEED_TIME, ObjectStoreLimits.stalledSecondsMax)
        _ = pl_curl_set_long(handle, CURLOPT_EXPECT_100_TIMEOUT_MS, ObjectStoreLimits.expectContinueWaitMilliseconds)
        _ = pl_curl_set_write_function(handle) { data, size, count, context in
            let sink = Unmanaged<ResponseSink>.fromOpaque(context!).takeUnretainedValue()
            sink.data.append(UnsafeRawPointer(data!).assumingMemoryBound(to: UInt8.self), count: size * count)
            return size * count
        }
        _ = pl_curl_set_pointer(handle, CURLOPT_WRITEDATA, Unmanaged.passUnretained(sink).toOpaque())
    }

    private func refusal(_ method: String, _ key: String, _ response: Response) -> ObjectStoreError {
        let text = String(decoding: response.body.prefix(ObjectStoreLimits.errorBodyBytesKeptMax), as: UTF8.self)
        let code: ObjectStoreError.Code = response.status >= 500 || response.status == 429 ? .unavailable : .refused
        return ObjectStoreError(
            code, "the object store refused a request",
            [
                ("url", location.url), ("method", method), ("key", location.prefix + key),
                ("status", "\(response.status)"), ("response", text),
            ])
    }
}

/// The folders and objects (name → size in bytes) directly below a folder of a bucket.
public struct S3Listing: Sendable {
    public var folders: [String] = []
    public var objectBytes: [String: Int64] = [:]
}

/// Collects a response body; the write callback reaches it through libcurl's context pointer.
private final class ResponseSink {
    var data = Data()
}
