import Tinh
import Foundation

/// Times `allreduceSum` of Float buffers on the current communicator, for the α–β fit.
public enum AllreduceBenchmark {
    /// 4 B, 16 B, … (×4) up to `maxBytes`.
    public static func sizes(maxBytes: Int) -> [Int] {
        var out: [Int] = [], n = 4
        while n <= maxBytes { out.append(n); n *= 4 }
        return out
    }

    /// For each size, the mean over ranks of each rank's 10th-percentile time (after a barrier) of
    /// one all-reduce: on a shared machine, repeats during which another process had a rank's core
    /// measure the scheduler, not the link, and a low percentile leaves them out. Repeats fit in
    /// about `secondsPerSize` (at least 3, at most 50), the same count on every rank.
    public static func measure(_ comm: Communicator, sizes: [Int], secondsPerSize: Double = 0.5) throws -> [AllreducePoint] {
        try sizes.map { bytes in
            var buffer = [Float](repeating: 1, count: max(1, bytes / 4))
            try comm.barrier()
            var t0 = comm.wallTime()
            try comm.allreduceSum(&buffer)  // warm-up: connections, registration
            try comm.barrier()
            t0 = comm.wallTime()
            try comm.allreduceSum(&buffer)
            let warm = try comm.sum(comm.wallTime() - t0) / Double(comm.size)
            let repeats = max(3, min(50, Int(secondsPerSize / max(warm, 1e-6))))
            var times: [Double] = []
            for _ in 0..<repeats {
                try comm.barrier()
                let start = comm.wallTime()
                try comm.allreduceSum(&buffer)
                times.append(comm.wallTime() - start)
            }
            times.sort()
            let mean = try comm.sum(times[times.count / 10]) / Double(comm.size)
            return AllreducePoint(ranks: comm.size, bytes: max(1, bytes / 4) * 4, seconds: mean)
        }
    }
}
