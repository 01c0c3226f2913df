/// Every bound of the PostgreSQL client, each with its unit in its name and the reason beside it.
package enum PostgresLimits {
    /// libpq's `connect_timeout`: a connection attempt to an unreachable host gives up after this long, so a
    /// shutdown request is never stuck behind a hanging connect for longer.
    package static let connectTimeoutSeconds = 5
    /// COPY data is handed to libpq in chunks of at least this many bytes: large enough that the per-call cost
    /// vanishes, small enough that memory stays flat whatever the batch size.
    package static let copyChunkBytes = 1 << 20
}
