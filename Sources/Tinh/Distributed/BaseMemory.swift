import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What holding the frozen base costs each rank: its proportional set size and the share of it
/// that is the base file mapped from the cache (`SharedBaseCache`). Shared page-cache pages are
/// split between the ranks that map them, so with the base shared, N ranks each carry ≈ base/N.
public struct BaseMemoryReport: Codable, Sendable {
    public var model: String
    public var ranks: Int
    public var sharedBase: Bool
    /// The base weights as held (f32 tensors and the frozen weights' storage).
    public var baseMegabytes: Double
    /// Per rank (MiB): the whole process's PSS, and its PSS of the mapped base file (0 when private).
    public var pssMegabytes: [Double]
    public var basePssMegabytes: [Double]
    /// Per rank (MiB): the resident part of its mapping of the base file (0 when private).
    public var baseRssMegabytes: [Double]
}

public enum BaseMemory {
    /// Gives the heap's free pages back to the system (glibc keeps freed memory for reuse).
    static func returnFreedMemory() {
        // malloc_trim is glibc's (malloc.h, which Swift's Glibc module leaves out): looked up by name.
        #if canImport(Glibc)
        typealias Trim = @convention(c) (Int) -> Int32
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") {
            _ = unsafeBitCast(symbol, to: Trim.self)(0)
        }
        #endif
    }

    /// Loads `spec` on every rank; with the base shared (per `policy` and the ranks on this node),
    /// the node's first rank writes the base's file in `basePrecision` first and the others wait for it.
    public static func load(_ spec: String, policy: SharedBaseCache.Policy, basePrecision: BasePrecision = .f32,
                            gemm: FrozenGEMM = .openblas, comm: Communicator) throws -> LoadedModel {
        let share = policy.applies(localSize: comm.localSize)
        if share {
            try comm.together("preparing the shared \(basePrecision) base of \(spec)") {
                if comm.localRank == 0 {
                    try ModelSource.prepareSharedBase(spec, basePrecision: basePrecision)
                    // The decode's freed tensors stay in the heap unless handed back: without this the
                    // first rank kept ~290 MiB more than the others on SmolLM2 in bf16 (an 8B base: GBs).
                    returnFreedMemory()
                }
            }
        }
        var loaded: LoadedModel!
        try comm.together("loading \(spec)") { loaded = try ModelSource.load(spec, basePrecision: basePrecision, sharedBase: share, gemm: gemm) }
        return loaded
    }

    /// Every rank's PSS and PSS of its mapped base file, in MiB, on every rank.
    public static func gather(_ loaded: LoadedModel, comm: Communicator) throws -> (pss: [Double], base: [Double], baseRss: [Double]) {
        var values = [Double](repeating: 0, count: 3 * comm.size)
        values[3 * comm.rank] = ProcessMemory.pssMegabytes() ?? .nan
        let mapping = loaded.sharedBasePath.flatMap { ProcessMemory.mappingMegabytes($0) }
        values[3 * comm.rank + 1] = mapping?.pss ?? 0
        values[3 * comm.rank + 2] = mapping?.rss ?? 0
        try comm.allreduceSum(&values)
        return ((0..<comm.size).map { values[3 * $0] }, (0..<comm.size).map { values[3 * $0 + 1] },
                (0..<comm.size).map { values[3 * $0 + 2] })
    }

    /// Loads the base, reads every page of it (as training would), and measures every rank.
    public static func report(_ spec: String, policy: SharedBaseCache.Policy, basePrecision: BasePrecision = .f32,
                              comm: Communicator) throws -> BaseMemoryReport {
        let loaded = try load(spec, policy: policy, basePrecision: basePrecision, comm: comm)
        var sink: Float = 0
        for t in loaded.model.baseTensors {
            var i = 0
            while i < t.count { sink += t.data[i]; i += 1024 }  // one read per 4 KiB page
        }
        // Frozen weights' storage, read in place (decoding would allocate an f32 copy of the head).
        var bytes: UInt8 = 0
        for linear in loaded.model.linears where !(linear.weight is F32Weight) {
            for entry in try FrozenWeightCodec.entries(linear.weight, name: linear.name).entries {
                var i = 0
                while i < entry.bytes.count { bytes &+= entry.bytes[i]; i += 4096 }
            }
        }
        if sink.isNaN || bytes == 1 { print("", terminator: "") }  // keeps the reads
        try comm.barrier()  // every rank has the pages mapped before anyone measures
        let (pss, base, baseRss) = try gather(loaded, comm: comm)
        return BaseMemoryReport(model: spec, ranks: comm.size, sharedBase: loaded.sharedBasePath != nil,
                                baseMegabytes: Double(loaded.baseBytes) / 1_048_576, pssMegabytes: pss, basePssMegabytes: base, baseRssMegabytes: baseRss)
    }
}

extension DecoderModel {
    /// The frozen base weights (a tied head once).
    public var baseTensors: [Tensor] {
        var out = [embedTokens, finalNorm.weight]
        for b in blocks {
            out += b.norms.map(\.weight)
            for l in b.linears {
                if let w = l.weight as? F32Weight { out.append(w.tensor) }  // quantized weights are private
                if let bias = l.bias { out.append(bias) }
            }
        }
        if !isTied, let w = lmHead.weight as? F32Weight { out.append(w.tensor) }
        return out
    }
}
