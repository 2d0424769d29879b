/// What the trainer needs from a group of cooperating processes. `LocalCommunicator` is the
/// single-process case; `MPICommunicator` runs over MPI. Both pass the same `CommunicatorSuite`.
public protocol Communicator: AnyObject {
    /// This process's index in the job, 0 ..< size.
    var rank: Int { get }
    var size: Int { get }
    /// Rank and size among the processes that share this node's memory.
    var localRank: Int { get }
    var localSize: Int { get }
    /// The node's name as the transport knows it.
    var processorName: String { get }
    /// The transport's own description ("Open MPI v4.1.4 ..." or "local").
    var libraryVersion: String { get }

    /// In-place element-wise sum over all ranks.
    func allreduceSum<T: ReducibleElement>(_ buffer: UnsafeMutableBufferPointer<T>) throws
    /// Starts an in-place sum and returns at once. The buffer must stay alive and untouched
    /// until the returned reduction completes. Open MPI makes no progress on its own: call
    /// `test()` now and then (between layers) or the whole cost lands in `wait()`.
    func startAllreduceSum<T: ReducibleElement>(_ buffer: UnsafeMutableBufferPointer<T>) throws -> PendingReduction
    /// Copies `buffer` from `root` to every rank.
    func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws
    func barrier() throws
    /// Seconds on a monotonic clock.
    func wallTime() -> Double
    /// Ends the whole job with `message` on stderr. No rank is left waiting.
    func abort(message: String, code: Int32) -> Never
}

/// A non-blocking reduction in flight.
public protocol PendingReduction: AnyObject {
    /// Drives progress; true once the result is in the buffer.
    func test() throws -> Bool
    /// Blocks until the result is in the buffer.
    func wait() throws
}

/// Element types the collectives can sum.
public protocol ReducibleElement: Numeric {
    static var reductionType: ReductionType { get }
}

public enum ReductionType: Int32, Sendable {
    case float32 = 0, float64 = 1, int64 = 2   // values match CMPI_FLOAT32 / _FLOAT64 / _INT64
}

extension Float: ReducibleElement { public static var reductionType: ReductionType { .float32 } }
extension Double: ReducibleElement { public static var reductionType: ReductionType { .float64 } }
extension Int64: ReducibleElement { public static var reductionType: ReductionType { .int64 } }

extension Communicator {
    /// Rank 0 does the I/O: logs, metrics, checkpoints.
    public var isRoot: Bool { rank == 0 }

    public func allreduceSum<T: ReducibleElement>(_ array: inout [T]) throws {
        try array.withUnsafeMutableBufferPointer { try allreduceSum($0) }
    }

    public func allreduceSum(_ tensor: Tensor) throws {
        try allreduceSum(tensor.buffer)
    }

    /// Sum of one value over all ranks.
    public func sum<T: ReducibleElement>(_ value: T) throws -> T {
        var v = [value]
        try allreduceSum(&v)
        return v[0]
    }

    /// Broadcasts a byte string whose length only `root` knows.
    public func broadcastBytes(_ bytes: [UInt8], root: Int) throws -> [UInt8] {
        var length = [Int64(rank == root ? bytes.count : 0)]
        try length.withUnsafeMutableBytes { try broadcast($0, root: root) }
        guard length[0] >= 0 else { throw TinhError.invalidInput("broadcast: negative length from rank \(root)") }
        var out = rank == root ? bytes : [UInt8](repeating: 0, count: Int(length[0]))
        try out.withUnsafeMutableBytes { try broadcast($0, root: root) }
        return out
    }

    /// Every rank's `bytes`, in rank order, on every rank.
    public func allGatherBytes(_ bytes: [UInt8]) throws -> [[UInt8]] {
        try (0..<size).map { root in try broadcastBytes(rank == root ? bytes : [], root: root) }
    }
}
