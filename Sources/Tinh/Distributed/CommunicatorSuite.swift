/// Collective checks with known answers. `tinh doctor` runs them on every rank of a real job,
/// and the test suite runs them on `LocalCommunicator` and under mpirun, so both
/// implementations are held to the same expectations.
public struct CommunicatorCheck: Codable, Sendable, Equatable {
    public var name: String
    public var passed: Bool
    public var detail: String
}

public enum CommunicatorSuite {
    /// Every check, in order. `largeCount` is the element count of the big all-reduce.
    public static func run(_ comm: Communicator, largeCount: Int = 10_000_000) -> [CommunicatorCheck] {
        var results: [CommunicatorCheck] = []
        func record(_ name: String, _ body: () throws -> String?) {
            do {
                if let failure = try body() {
                    results.append(.init(name: name, passed: false, detail: failure))
                } else {
                    results.append(.init(name: name, passed: true, detail: "ok"))
                }
            } catch let skip as NotApplicable {
                results.append(.init(name: name, passed: true, detail: "not applicable: \(skip.reason)"))
            } catch {
                results.append(.init(name: name, passed: false, detail: "threw: \(error)"))
            }
        }
        let n = comm.size, r = comm.rank
        let rankSum = n * (n + 1) / 2  // sum of (rank + 1) over ranks

        record("allreduce-float32") {
            var v = (0..<1000).map { Float(r + 1) * Float($0 % 7 + 1) }
            try comm.allreduceSum(&v)
            return firstMismatch(v) { Float(rankSum) * Float($0 % 7 + 1) }
        }
        record("allreduce-float64") {
            var v = (0..<1000).map { Double(r + 1) * (Double($0) + 0.25) }
            try comm.allreduceSum(&v)
            return firstMismatch(v) { Double(rankSum) * (Double($0) + 0.25) }
        }
        record("allreduce-int64") {
            // Values above 2^32 catch a reduction that silently goes through 32-bit ints.
            var v = (0..<1000).map { Int64(r + 1) << 40 + Int64($0) }
            try comm.allreduceSum(&v)
            return firstMismatch(v) { Int64(rankSum) << 40 + Int64(n) * Int64($0) }
        }
        record("allreduce-large-\(largeCount)") {
            var v = [Float](repeating: 0, count: largeCount)
            v.withUnsafeMutableBufferPointer { b in for i in 0..<b.count { b[i] = Float(r + 1) + Float(i & 1023) } }
            try comm.allreduceSum(&v)
            return firstMismatch(v) { Float(rankSum) + Float(n) * Float($0 & 1023) }
        }
        record("allreduce-empty") {
            var v: [Float] = []
            try comm.allreduceSum(&v)
            var d: [Double] = []
            try comm.allreduceSum(&d)
            return v.isEmpty && d.isEmpty ? nil : "empty buffer changed size"
        }
        record("allreduce-chunked") {
            // Shrink the per-call limit so a 10,007-element buffer goes in 11 pieces.
            let mpi = comm as? MPICommunicator
            let saved = mpi?.maxElementsPerCall
            mpi?.maxElementsPerCall = 1000
            defer { if let saved { mpi?.maxElementsPerCall = saved } }
            var v = (0..<10_007).map { Float(r + 1) * Float($0 % 13) }
            try comm.allreduceSum(&v)
            return firstMismatch(v) { Float(rankSum) * Float($0 % 13) }
        }
        record("iallreduce-float32") {
            var a = (0..<100_000).map { Float(r + 1) * Float($0 % 5) }
            var b = (0..<1000).map { Double(r + 1) * Double($0) }
            var polls = 0
            try a.withUnsafeMutableBufferPointer { pa in
                try b.withUnsafeMutableBufferPointer { pb in
                    let first = try comm.startAllreduceSum(pa)
                    let second = try comm.startAllreduceSum(pb)
                    while try !first.test() {
                        polls += 1
                        if polls > 10_000_000 { break }
                    }
                    try first.wait()
                    try second.wait()
                }
            }
            if let m = firstMismatch(a, { Float(rankSum) * Float($0 % 5) }) { return m }
            return firstMismatch(b) { Double(rankSum) * Double($0) }
        }
        record("broadcast-from-last-rank") {
            let root = n - 1
            var bytes = [UInt8](repeating: 0, count: 4099)
            if r == root { for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i * 31 + 7) } }
            try bytes.withUnsafeMutableBytes { try comm.broadcast($0, root: root) }
            return firstMismatch(bytes) { UInt8(truncatingIfNeeded: $0 * 31 + 7) }
        }
        record("broadcast-bytes-unknown-length") {
            let message = Array("from rank 0: xin chào".utf8)
            let got = try comm.broadcastBytes(r == 0 ? message : [], root: 0)
            return got == message ? nil : "received \(got.count) bytes, expected \(message.count)"
        }
        record("node-local-split") {
            guard comm.localRank >= 0, comm.localRank < comm.localSize, comm.localSize <= n else {
                return "local rank \(comm.localRank) of \(comm.localSize) in a job of \(n)"
            }
            // Each node's local rank 0 contributes its node's size: they must add up to the job.
            let counted = try comm.sum(Int64(comm.localRank == 0 ? comm.localSize : 0))
            return counted == Int64(n) ? nil : "node sizes add up to \(counted), job has \(n) ranks"
        }
        record("errors-return") {
            // MPI errors must come back as Swift errors with MPI's message (MPI_ERRORS_RETURN).
            guard let mpi = comm as? MPICommunicator else { throw NotApplicable(reason: "no MPI in this communicator") }
            guard let error = mpi.provokeError() else { return "an invalid call did not fail" }
            guard case TinhError.mpi(_, _, let message) = error, !message.isEmpty else { return "unexpected error \(error)" }
            return nil
        }
        record("barrier") {
            try comm.barrier()
            return nil
        }
        return results
    }

    /// A check that has nothing to test on this communicator; reported as such, not as "ok".
    struct NotApplicable: Error { var reason: String }

    private static func firstMismatch<T: Equatable>(_ values: [T], _ expected: (Int) -> T) -> String? {
        for i in values.indices where values[i] != expected(i) {
            return "element \(i): got \(values[i]), expected \(expected(i))"
        }
        return nil
    }
}
