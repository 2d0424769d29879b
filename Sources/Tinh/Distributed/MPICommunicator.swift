import CMPI
import Foundation

/// The MPI world of this job, over the CMPI shim. Create it once per process with `shared()`.
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    public let localRank: Int
    public let localSize: Int
    public let processorName: String
    public let libraryVersion: String
    /// MPI counts are C ints; longer buffers go in pieces of at most this many elements.
    /// Settable so tests can exercise the chunked path with small buffers.
    public var maxElementsPerCall: Int = Int(Int32.max)

    /// Calls `body(start, count)` over `total` elements in pieces MPI's Int32 counts can hold.
    private func forEachChunk(of total: Int, _ body: (Int, Int) throws -> Void) rethrows {
        var start = 0
        while start < total {
            let n = min(maxElementsPerCall, total - start)
            try body(start, n)
            start += n
        }
    }

    nonisolated(unsafe) private static var instance: MPICommunicator?

    /// Initialises MPI on first use (with or without mpirun; without, this is a singleton job of 1).
    public static func shared() throws -> MPICommunicator {
        if let instance { return instance }
        let made = try MPICommunicator()
        instance = made
        return made
    }

    private init() throws {
        var provided: Int32 = 0
        try check(cmpi_init(&provided), "MPI_Init_thread")
        var r: Int32 = 0, s: Int32 = 0, lr: Int32 = 0, ls: Int32 = 0
        try check(cmpi_world_rank(&r), "MPI_Comm_rank")
        try check(cmpi_world_size(&s), "MPI_Comm_size")
        try check(cmpi_node_rank(&lr), "MPI_Comm_rank(node)")
        try check(cmpi_node_size(&ls), "MPI_Comm_size(node)")
        rank = Int(r); size = Int(s); localRank = Int(lr); localSize = Int(ls)
        processorName = try readCString(capacity: 512) { cmpi_processor_name($0, $1) }
        libraryVersion = try readCString(capacity: 8192) { cmpi_library_version($0, $1) }
    }

    /// Call once at the end of a successful run.
    public static func finalizeIfStarted() {
        if instance != nil { _ = cmpi_finalize() }
    }

    public func allreduceSum<T: ReducibleElement>(_ buffer: UnsafeMutableBufferPointer<T>) throws {
        guard let base = buffer.baseAddress else { return }
        try forEachChunk(of: buffer.count) { start, n in
            try check(cmpi_allreduce_sum(base + start, Int32(n), T.reductionType.rawValue), "MPI_Allreduce")
        }
    }

    public func startAllreduceSum<T: ReducibleElement>(_ buffer: UnsafeMutableBufferPointer<T>) throws -> PendingReduction {
        let pending = MPIPendingReduction()
        guard let base = buffer.baseAddress else { return pending }
        try forEachChunk(of: buffer.count) { start, n in
            var request: UnsafeMutableRawPointer?
            try check(cmpi_iallreduce_sum(base + start, Int32(n), T.reductionType.rawValue, &request), "MPI_Iallreduce")
            if let request { pending.requests.append(request) }
        }
        return pending
    }

    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
        guard root >= 0 && root < size else { throw TinhError.invalidInput("broadcast root \(root) outside 0..<\(size)") }
        guard let base = buffer.baseAddress else { return }
        try forEachChunk(of: buffer.count) { start, n in
            try check(cmpi_bcast_bytes(base + start, Int32(n), Int32(root)), "MPI_Bcast")
        }
    }

    /// Starts a broadcast and returns at once (completed like a reduction: `test()` / `wait()`).
    public func startBroadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws -> PendingReduction {
        guard root >= 0 && root < size else { throw TinhError.invalidInput("broadcast root \(root) outside 0..<\(size)") }
        let pending = MPIPendingReduction()
        guard let base = buffer.baseAddress else { return pending }
        try forEachChunk(of: buffer.count) { start, n in
            var request: UnsafeMutableRawPointer?
            try check(cmpi_ibcast_bytes(base + start, Int32(n), Int32(root), &request), "MPI_Ibcast")
            if let request { pending.requests.append(request) }
        }
        return pending
    }

    /// Starts a barrier and returns at once.
    public func startBarrier() throws -> PendingReduction {
        let pending = MPIPendingReduction()
        var request: UnsafeMutableRawPointer?
        try check(cmpi_ibarrier(&request), "MPI_Ibarrier")
        if let request { pending.requests.append(request) }
        return pending
    }

    /// Makes a call MPI must reject and returns the error it became, to show errors come back
    /// as `TinhError.mpi` with MPI's message instead of killing the job.
    func provokeError() -> Error? {
        var byte: UInt8 = 0
        do {
            // A root outside the communicator: MPI's argument checks reject it on every rank.
            try check(cmpi_bcast_bytes(&byte, 1, Int32(size + 5)), "MPI_Bcast(invalid root)")
            return nil
        } catch { return error }
    }

    public func barrier() throws { try check(cmpi_barrier(), "MPI_Barrier") }

    public func wallTime() -> Double { cmpi_wtime() }

    public func abort(message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data("tinh: rank \(rank)/\(size) on \(processorName): \(message)\n".utf8))
        _ = cmpi_abort(code)
        exit(code)  // MPI_Abort returned (it should not): leave anyway.
    }
}

/// Requests of one non-blocking reduction (one per chunk), completed in order.
final class MPIPendingReduction: PendingReduction {
    var requests: [UnsafeMutableRawPointer] = []

    func test() throws -> Bool {
        while let first = requests.first {
            var done: Int32 = 0
            try check(cmpi_test(first, &done), "MPI_Test")
            if done == 0 { return false }
            requests.removeFirst()
        }
        return true
    }

    func wait() throws {
        while !requests.isEmpty {
            let first = requests.removeFirst()
            try check(cmpi_wait(first), "MPI_Wait")
        }
    }

    deinit {
        // A reduction dropped unfinished would leave MPI writing into freed memory.
        for r in requests { _ = cmpi_wait(r) }
    }
}

/// Turns an MPI error code into a `TinhError` carrying MPI's own error string.
private func check(_ code: Int32, _ operation: String) throws {
    guard code != 0 else { return }
    var text = [CChar](repeating: 0, count: 512)
    cmpi_error_string(code, &text, Int32(text.count))
    throw TinhError.mpi(code: code, operation: operation, message: String(cString: text))
}

private func readCString(capacity: Int, _ body: (UnsafeMutablePointer<CChar>, Int32) -> Int32) throws -> String {
    var buf = [CChar](repeating: 0, count: capacity)
    let code = buf.withUnsafeMutableBufferPointer { body($0.baseAddress!, Int32(capacity)) }
    try check(code, "query")
    return String(cString: buf).trimmingCharacters(in: .whitespacesAndNewlines)
}
