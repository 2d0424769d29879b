import Foundation

/// Fault injection for tests and `launch/chaos`, read once from the environment. Each is inert
/// unless its variable is set. "STEP:RANK" pairs name a 0-based step and a rank.
enum TestHooks {
    static let environment = ProcessInfo.processInfo.environment

    /// TINH_TEST_KILL_RANK="STEP:RANK": that rank SIGKILLs itself once STEP steps are done.
    static let killRank: (step: Int, rank: Int)? = pair("TINH_TEST_KILL_RANK")

    /// TINH_TEST_STALL="STEP:RANK:SECONDS": that rank sleeps before the gradient all-reduce of STEP.
    static let stall: (step: Int, rank: Int, seconds: Double)? = {
        guard let parts = environment["TINH_TEST_STALL"]?.split(separator: ":"), parts.count == 3,
              let step = Int(parts[0]), let rank = Int(parts[1]), let seconds = Double(parts[2]) else { return nil }
        return (step, rank, seconds)
    }()

    /// TINH_TEST_NAN_AT_STEP="STEP[:RANK],...": that rank (default 0) puts a NaN into its last
    /// adapter gradient of those steps, before the all-reduce.
    static let nanSteps: [(step: Int, rank: Int)] = (environment["TINH_TEST_NAN_AT_STEP"] ?? "").split(separator: ",").compactMap { item in
        let parts = item.split(separator: ":").compactMap { Int($0) }
        guard let step = parts.first else { return nil }
        return (step, parts.count > 1 ? parts[1] : 0)
    }

    /// TINH_TEST_RANK_MODEL="RANK:SPEC": that rank loads SPEC instead of --model (the config
    /// still says --model), as if the file at the same path differed between nodes.
    static let rankModel: (rank: Int, spec: String)? = {
        guard let spec = environment["TINH_TEST_RANK_MODEL"], let colon = spec.firstIndex(of: ":"),
              let rank = Int(spec[..<colon]) else { return nil }
        return (rank, String(spec[spec.index(after: colon)...]))
    }()

    static func pair(_ name: String) -> (step: Int, rank: Int)? {
        let parts = (environment[name] ?? "").split(separator: ":").compactMap { Int($0) }
        return parts.count == 2 ? (parts[0], parts[1]) : nil
    }
}

extension Trainer {
    static func testRankModel(rank: Int) -> String? {
        guard let hook = TestHooks.rankModel, hook.rank == rank else { return nil }
        return hook.spec
    }
}
