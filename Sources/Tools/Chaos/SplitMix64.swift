/// SplitMix64 (Steele, Lea, Flood 2014): the campaign's only source of randomness, so a seed replays the same
/// fault schedule, targets and parameters. (A copy of the generator in `Ledger`: the driver links nothing it judges.)
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func next(below bound: Int) -> Int {
        precondition(bound > 0, "bound is positive")
        return Int(next() % UInt64(bound))
    }

    mutating func next(in range: ClosedRange<Int>) -> Int { range.lowerBound + next(below: range.count) }

    /// Uniform in 0..<1.
    mutating func nextDouble() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
