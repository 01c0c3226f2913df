import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// One page of a ListObjectsV2 answer (S3's XML), read with Foundation's XML parser: the objects (key and size),
/// the folders (CommonPrefixes) and the token of the next page.
struct S3ListPage {
    var objects: [(key: String, bytes: Int64)] = []
    var folders: [String] = []
    var nextToken: String?

    init(_ xml: Data, url: String) throws {
        let reader = Reader()
        let parser = XMLParser(data: xml)
        parser.delegate = reader
        // An empty body or a document cut short parses without error: only a closed ListBucketResult is an answer
        // (read as empty, a truncated listing would make every archived object look missing).
        guard parser.parse(), reader.complete else {
            throw ObjectStoreError(
                .refused, "the object store's listing is not the XML of ListObjectsV2",
                [("url", url), ("error", "\(parser.parserError.map { "\($0)" } ?? "unknown")")])
        }
        objects = reader.objects
        folders = reader.folders
        nextToken = reader.truncated ? reader.nextToken : nil
    }

    /// Collects the text of Key and Size (inside Contents), Prefix (inside CommonPrefixes), IsTruncated and
    /// NextContinuationToken.
    private final class Reader: NSObject, XMLParserDelegate {
        var objects: [(key: String, bytes: Int64)] = []
        private var key = ""
        private var bytes: Int64 = -1
        var folders: [String] = []
        var truncated = false
        var nextToken: String?
        /// The root ListBucketResult element was closed.
        var complete = false
        private var path: [String] = []
        private var text = ""

        func parser(
            _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            path.append(name)
            text = ""
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            switch path.suffix(2) {
            case ["Contents", "Key"]: key = text
            case ["Contents", "Size"]: bytes = Int64(text) ?? -1
            case ["ListBucketResult", "Contents"]: objects.append((key, bytes))
            case ["CommonPrefixes", "Prefix"]: folders.append(text)
            case ["ListBucketResult", "IsTruncated"]: truncated = text == "true"
            case ["ListBucketResult", "NextContinuationToken"]: nextToken = text
            default: break
            }
            if path == ["ListBucketResult"] { complete = true }
            path.removeLast()
            text = ""
        }
    }
}
