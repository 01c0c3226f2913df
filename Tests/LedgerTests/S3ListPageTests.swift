import Foundation
import Testing

@testable import ObjectStore

/// A listing is what a store says, not what the ledger wrote: a malformed or hostile one must end in an error or in
/// entries the archive then finds missing (and uploads again), never in a crash.
@Suite struct S3ListPageTests {
    private func page(_ body: String) throws -> S3ListPage { try S3ListPage(Data(body.utf8), url: "s3://b/p") }

    @Test func aWellFormedPageIsRead() throws {
        let listed = try page(
            """
            <?xml version="1.0" encoding="UTF-8"?>
            <ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>t1</NextContinuationToken>
            <Contents><Key>p/a.seg</Key><Size>42</Size></Contents>
            <CommonPrefixes><Prefix>p/ledger/</Prefix></CommonPrefixes></ListBucketResult>
            """)
        #expect(listed.objects.map(\.key) == ["p/a.seg"] && listed.objects.map(\.bytes) == [42])
        #expect(listed.folders == ["p/ledger/"] && listed.nextToken == "t1")
    }

    @Test(arguments: ["", "not xml", "<ListBucketResult><Contents>", "<a></b>", "\u{0}\u{1}<?xml"])
    func somethingThatIsNotAListingIsRefused(_ body: String) throws {
        #expect(throws: ObjectStoreError.self) { try page(body) }
    }

    /// A size that is missing or not a number reads as -1: no archived object has that size, so the archive run
    /// takes the object for missing and uploads it again rather than trusting it.
    @Test func aSizeThatIsNotANumberIsNoSize() throws {
        let listed = try page(
            """
            <ListBucketResult><Contents><Key>k1</Key></Contents>
            <Contents><Key>k2</Key><Size>99999999999999999999</Size></Contents>
            <Contents><Key>k3</Key><Size>-5x</Size></Contents></ListBucketResult>
            """)
        #expect(listed.objects.map(\.bytes) == [-1, -1, -1])
    }

    /// "Truncated" without a token ends the listing; tags in unexpected places are ignored.
    @Test func aTruncatedPageWithoutATokenEndsTheListing() throws {
        let listed = try page(
            """
            <ListBucketResult><IsTruncated>true</IsTruncated>
            <Other><Contents><Key>nested</Key><Size>1</Size></Contents></Other></ListBucketResult>
            """)
        #expect(listed.nextToken == nil && listed.objects.isEmpty)
    }
}
