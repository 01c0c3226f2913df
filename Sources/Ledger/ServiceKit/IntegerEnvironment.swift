import ArgumentParser
import Foundation

/// Environment variables a service reads as whole numbers. The options fall back to their default when the value
/// does not parse, so `METRICS_PORT=abc` was ignored without a word (issue 13); a set but malformed value is now
/// refused at start, by name.
public enum IntegerEnvironment {
    public static func check(_ names: [String], in environment: [String: String] = ProcessInfo.processInfo.environment)
        throws
    {
        for name in names {
            guard let value = environment[name], Int(value) == nil else { continue }
            throw ValidationError("\(name)=\(value) is not a whole number")
        }
    }
}
