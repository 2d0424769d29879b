import Foundation

/// The faults a test or `launch/chaos` asks a run to inject, as a value: the `tinh` command reads
/// them once from the environment (`init(environment:)`) and hands them to the `Trainer`; the
/// library reads no environment. `.none` (every field unset) injects nothing. "STEP:RANK" pairs
/// name a 0-based step and a rank.
public struct FaultPlan: Sendable, Equatable {
    /// A 0-based step on one rank.
    public struct RankStep: Sendable, Equatable {
        public var step: Int
        public var rank: Int
        public init(step: Int, rank: Int) { self.step = step; self.rank = rank }
    }

    /// One rank loading another model than the config's.
    public struct RankModel: Sendable, Equatable {
        public var rank: Int
        public var spec: String
        public init(rank: Int, spec: String) { self.rank = rank; self.spec = spec }
    }

    /// One rank using another seed than the config's.
    public struct RankSeed: Sendable, Equatable {
        public var rank: Int
        public var seed: UInt64
        public init(rank: Int, seed: UInt64) { self.rank = rank; self.seed = seed }
    }

    /// One rank sleeping before the gradient all-reduce of a step.
    public struct Stall: Sendable, Equatable {
        public var step: Int
        public var rank: Int
        public var seconds: Double
        public init(step: Int, rank: Int, seconds: Double) { self.step = step; self.rank = rank; self.seconds = seconds }
    }

    /// TINH_TEST_KILL_RANK="STEP:RANK": that rank SIGKILLs itself once STEP steps are done.
    public var killRank: RankStep?
    /// TINH_TEST_STALL="STEP:RANK:SECONDS": that rank sleeps before the gradient all-reduce of STEP.
    public var stall: Stall?
    /// TINH_TEST_NAN_AT_STEP="STEP[:RANK],...": that rank (default 0) puts a NaN into its last
    /// adapter gradient of those steps, before the all-reduce.
    public var nanSteps: [RankStep] = []
    /// TINH_TEST_RANK_MODEL="RANK:SPEC": that rank loads SPEC instead of --model (the config
    /// still says --model), as if the file at the same path differed between nodes.
    public var rankModel: RankModel?
    /// TINH_TEST_KILL_AFTER_STEP=N kills the process (SIGKILL, no clean-up) once N steps are done.
    public var killAfterStep: Int?
    /// TINH_TEST_SIGNAL="STEP:RANK" makes that rank send itself SIGTERM during step STEP.
    public var signal: RankStep?
    /// TINH_TEST_PERTURB_EXTRA_STATE_RANK=R changes one value of rank R's extra state (and its
    /// AdaLoRA mask fingerprint) before the agreement checks, to show that they catch diverged ranks.
    public var perturbExtraStateRank: Int?
    /// TINH_TEST_FAIL_WRITE_AFTER_BYTES=N makes the run's atomic writes fail like a full disk
    /// (ENOSPC) once N bytes in all have gone through them (`WriteBudget`).
    public var failWritesAfterBytes: Int?
    /// TINH_TEST_RANK_SEED="RANK:SEED" gives one rank another seed (the CLI applies it to the
    /// config), to show that ranks which disagree fail at start with a clear error.
    public var rankSeed: RankSeed?

    /// No fault at all.
    public static let none = FaultPlan()

    public init() {}

    /// Every environment variable this plan reads.
    public static let variables = ["TINH_TEST_KILL_RANK", "TINH_TEST_STALL", "TINH_TEST_NAN_AT_STEP", "TINH_TEST_RANK_MODEL",
                                   "TINH_TEST_KILL_AFTER_STEP", "TINH_TEST_SIGNAL", "TINH_TEST_PERTURB_EXTRA_STATE_RANK",
                                   "TINH_TEST_FAIL_WRITE_AFTER_BYTES", "TINH_TEST_RANK_SEED"]

    /// The plan the TINH_TEST_* variables of `environment` describe; unset or empty ones are
    /// inert. A value that does not parse is an error naming the variable and the expected form.
    public init(environment: [String: String]) throws {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        func bad(_ name: String, _ text: String, _ form: String) -> TinhError {
            .invalidInput("\(name)=\(text): expected \(form)")
        }
        func count(_ text: Substring) -> Int? { Int(text).flatMap { $0 >= 0 ? $0 : nil } }
        func pair(_ name: String) throws -> RankStep? {
            guard let text = value(name) else { return nil }
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, let step = count(parts[0]), let rank = count(parts[1]) else {
                throw bad(name, text, "STEP:RANK (a 0-based step and a rank, e.g. 1:1)")
            }
            return RankStep(step: step, rank: rank)
        }
        func number(_ name: String, _ what: String) throws -> Int? {
            guard let text = value(name) else { return nil }
            guard let n = count(Substring(text)) else { throw bad(name, text, what) }
            return n
        }

        killRank = try pair("TINH_TEST_KILL_RANK")
        signal = try pair("TINH_TEST_SIGNAL")
        if let text = value("TINH_TEST_STALL") {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 3, let step = count(parts[0]), let rank = count(parts[1]),
                  let seconds = Double(parts[2]), seconds.isFinite, seconds >= 0 else {
                throw bad("TINH_TEST_STALL", text, "STEP:RANK:SECONDS (a 0-based step, a rank and seconds to sleep, e.g. 1:1:120)")
            }
            stall = Stall(step: step, rank: rank, seconds: seconds)
        }
        if let text = value("TINH_TEST_NAN_AT_STEP") {
            nanSteps = try text.split(separator: ",").map { item in
                let parts = item.split(separator: ":", omittingEmptySubsequences: false)
                guard (1...2).contains(parts.count), let step = count(parts[0]) else {
                    throw bad("TINH_TEST_NAN_AT_STEP", text, "STEP[:RANK],... (0-based steps, each with a rank, default 0; e.g. 1:1,3)")
                }
                guard parts.count == 2 else { return RankStep(step: step, rank: 0) }
                guard let rank = count(parts[1]) else {
                    throw bad("TINH_TEST_NAN_AT_STEP", text, "STEP[:RANK],... (0-based steps, each with a rank, default 0; e.g. 1:1,3)")
                }
                return RankStep(step: step, rank: rank)
            }
        }
        if let text = value("TINH_TEST_RANK_MODEL") {
            guard let colon = text.firstIndex(of: ":"), let rank = count(text[..<colon]), text.index(after: colon) < text.endIndex else {
                throw bad("TINH_TEST_RANK_MODEL", text, "RANK:SPEC (a rank and the model it loads instead of --model, e.g. 1:tiny:5)")
            }
            rankModel = RankModel(rank: rank, spec: String(text[text.index(after: colon)...]))
        }
        killAfterStep = try number("TINH_TEST_KILL_AFTER_STEP", "a number of steps")
        perturbExtraStateRank = try number("TINH_TEST_PERTURB_EXTRA_STATE_RANK", "a rank")
        failWritesAfterBytes = try number("TINH_TEST_FAIL_WRITE_AFTER_BYTES", "a number of bytes")
        if let text = value("TINH_TEST_RANK_SEED") {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, let rank = count(parts[0]), let seed = UInt64(parts[1]) else {
                throw bad("TINH_TEST_RANK_SEED", text, "RANK:SEED (a rank and the seed it uses instead of --seed, e.g. 1:9)")
            }
            rankSeed = RankSeed(rank: rank, seed: seed)
        }
    }
}

// MARK: what the trainer does with the plan

extension FaultPlan {
    /// The model `rank` loads instead of the config's (TINH_TEST_RANK_MODEL), if any.
    func model(forRank rank: Int) -> String? {
        guard let hook = rankModel, hook.rank == rank else { return nil }
        return hook.spec
    }

    /// Whether `rank` perturbs its state before the agreement checks.
    func perturbs(rank: Int) -> Bool { perturbExtraStateRank == rank }

    /// The seed `rank` uses instead of the configured one (TINH_TEST_RANK_SEED), if any.
    public func seed(forRank rank: Int) -> UInt64? {
        guard let hook = rankSeed, hook.rank == rank else { return nil }
        return hook.seed
    }

    /// The budget of the run's atomic writes, when the plan limits them.
    public func makeWriteBudget() -> WriteBudget? { failWritesAfterBytes.map(WriteBudget.init(bytes:)) }

    /// At the start of `step`, after the gradients were zeroed: a NaN into this rank's last
    /// gradient (backward adds into the gradients, so it reaches this rank's all-reduce), then the stall.
    func beforeStep(_ step: Int, rank: Int, gradients grads: Tensor) {
        if nanSteps.contains(where: { $0.step == step && $0.rank == rank }), grads.count > 0 { grads.data[grads.count - 1] = .nan }
        if let stall, stall.step == step, stall.rank == rank { usleep(useconds_t(stall.seconds * 1e6)) }
    }

    /// During the last micro-batch of `step`, before the stop requests are summed.
    func duringLastMicroBatch(_ step: Int, rank: Int) {
        if let signal, signal.step == step, signal.rank == rank { raise(SIGTERM) }
    }

    /// Once `done` steps are done (and a checkpoint due after them is written).
    func afterSteps(_ done: Int, rank: Int) {
        if let kill = killAfterStep, kill == done { raise(SIGKILL) }
        if let kill = killRank, kill.step == done, kill.rank == rank {
            // The time lets launch/chaos measure how long the job takes to notice.
            FileHandle.standardError.write(Data("tinh: test hook: rank \(rank) SIGKILLs itself after step \(done) at unix time \(String(format: "%.3f", Date().timeIntervalSince1970))\n".utf8))
            raise(SIGKILL)
        }
    }
}
