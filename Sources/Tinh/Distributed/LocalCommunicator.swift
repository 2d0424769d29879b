import Foundation

/// A job of one process: every collective is the identity. This is the debugging mode that
/// needs no mpirun, and the reference the MPI implementation is tested against.
public final class LocalCommunicator: Communicator {
    public init() {}

    public var rank: Int { 0 }
    public var size: Int { 1 }
    public var localRank: Int { 0 }
    public var localSize: Int { 1 }
    public var processorName: String { ProcessInfo.processInfo.hostName }
    public var libraryVersion: String { "local (single process, no MPI)" }

    public func allreduceSum<T: ReducibleElement>(_ buffer: UnsafeMutableBufferPointer<T>) throws {}

    public func startAllreduceSum<T: ReducibleElement>(_ buffer: UnsafeMutableBufferPointer<T>) throws -> PendingReduction {
        CompletedReduction()
    }

    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
        guard root == 0 else { throw TinhError.invalidInput("broadcast root \(root) outside a job of 1 rank") }
    }

    public func barrier() throws {}

    public func wallTime() -> Double { monotonicSeconds() }

    public func abort(message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data("tinh: \(message)\n".utf8))
        exit(code)
    }
}

final class CompletedReduction: PendingReduction {
    func test() throws -> Bool { true }
    func wait() throws {}
}

public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
