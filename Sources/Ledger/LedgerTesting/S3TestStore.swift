import Foundation
import ObjectStore

/// The S3-protocol server the tests use (scripts/test starts the moto server on loopback, checking signatures,
/// and exports `PULSE_TEST_S3_ENDPOINT` and the access key it made): each test takes a bucket of its own, so tests
/// never see each other's objects.
public enum S3TestStore {
    /// The variable's value, or an error that says how to get one: a test that needs the store fails without it.
    private static func required(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            throw ObjectStoreError(
                .misconfigured,
                "\(name) is not set: run the tests with scripts/test, which starts an S3-protocol server")
        }
        return value
    }

    public static func credentials() throws -> S3Credentials {
        S3Credentials(
            accessKeyID: try required("PULSE_TEST_S3_ACCESS_KEY_ID"),
            secretAccessKey: try required("PULSE_TEST_S3_SECRET_ACCESS_KEY"))
    }

    /// The AWS variables a product needs to reach the test store, on top of this process's environment.
    public static func environment() throws -> [String: String] {
        let credentials = try credentials()
        return ProcessInfo.processInfo.environment.merging([
            "AWS_ENDPOINT_URL": try required("PULSE_TEST_S3_ENDPOINT"), "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": credentials.accessKeyID, "AWS_SECRET_ACCESS_KEY": credentials.secretAccessKey,
        ]) { $1 }
    }

    /// A new, empty bucket, and its `s3://` URL with a prefix (the archive must work below one).
    public static func freshBucket() throws -> (bucket: S3Bucket, url: String) {
        let name = "pulse-test-" + UUID().uuidString.lowercased().prefix(13)
        let url = "s3://\(name)/archive/ledgers"
        let bucket = try S3Bucket(
            try S3Location(url: url, environment: try environment()), credentials: try credentials())
        try bucket.createBucket()
        return (bucket, url)
    }
}
