/// Whether a result holds a value: decoders return `Result`s that tools and tests only test.
extension Result {
    package var isSuccess: Bool { if case .success = self { true } else { false } }
}
