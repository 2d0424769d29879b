extension Communicator {
    /// Runs `body` on this rank, then makes its outcome the job's: if it threw on any rank, it
    /// throws on every rank (with the first failing rank's message), so no rank goes on to wait in
    /// a collective that the failed rank will never join.
    public func together(_ what: String, _ body: () throws -> Void) throws {
        var failure: Error?
        do { try body() } catch { failure = error }
        guard size > 1 else {
            if let failure { throw failure }
            return
        }
        let mine = failure.map { Array("\($0)".utf8) } ?? []
        let outcomes = try allGatherBytes(mine).map { String(decoding: $0, as: UTF8.self) }
        if let (rank, message) = outcomes.enumerated().first(where: { !$0.element.isEmpty }) {
            throw TinhError.invalidInput("\(what) failed on rank \(rank): \(message)")
        }
    }
}
