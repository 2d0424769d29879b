import Foundation
import Testing
@testable import Tinh

/// N ranks with the same global batch must train exactly what 1 rank trains, for every method.
@Suite(.serialized) struct DataParallelTests {
    static let data: String = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-dp-\(UUID().uuidString)")
        try! DemoTask.write(to: dir, trainCount: 64, validCount: 8, seed: 1)
        return dir.appendingPathComponent("train.jsonl").path
    }()

    /// Method names for `--method`, plus "pissa" for LoRA with `--init pissa` and "lora-bf16" for
    /// LoRA on a bf16 base (oneDNN GEMMs), where the CPU supports it.
    static let methods = ["lora", "lora-fa", "lora-plus", "vera", "delta-lora", "dora", "qlora", "adalora", "pissa"]
        + (BF16GEMM.isSupported ? ["lora-bf16"] : [])

    /// Settings of each method's run: LoRA+ trains B 16 × faster, so its base rate is 16 × lower;
    /// VeRA learns more slowly per step and takes a larger rank and rate.
    static func methodArgs(_ method: String) -> [String] {
        switch method {
        case "lora-plus": return ["--method", method, "--lr", "3e-4"]
        case "full": return ["--method", method, "--lr", "1e-3"]  // every weight moves: a gentler rate
        case "vera": return ["--method", method, "--rank", "32", "--vera-seed", "7", "--lr", "1e-2"]
        // Delta-LoRA's W moves from step 6 on and is compared across ranks at two checkpoints.
        case "delta-lora": return ["--method", method, "--delta-start", "5", "--delta-lambda", "1", "--save-every", "10"]
        // AdaLoRA prunes 6 → 3 triplets per module between steps 4 and 7 (every 2 steps) and holds
        // the final mask from step 8 on (of 12 steps in the resume test, 20 here).
        case "adalora": return ["--method", method, "--rank", "6", "--target-r", "3", "--tinit", "3", "--tfinal", "5", "--delta-t", "2"]
        // PiSSA trains W's principal directions, which move faster than a zero-initialised B: a
        // gentler rate, at which the loss still falls.
        case "pissa": return ["--method", "lora", "--init", "pissa", "--lr", "1e-3"]
        case "lora-bf16": return ["--method", "lora", "--base-precision", "bf16"]
        default: return ["--method", method]
        }
    }

    /// The library both sides of a comparison run (the one `tinh` uses at one thread per rank).
    static let gemm = FrozenGEMM.preferred(blasThreads: 1)

    /// `ranks` ranks, each with `gradAccum` micro-batches of 8 / (ranks · gradAccum) sequences.
    func train(ranks: Int, gradAccum: Int, out: String, extra: [String] = [],
               mpi: [String: String] = [:]) throws -> [[String: Any]] {
        let args = ["train", "--model", "tiny:2", "--data", Self.data, "--out", out, "--steps", "20", "--batch", "8",
                    "--grad-accum", "\(gradAccum)", "--seq", "48", "--targets", "q,k,v,o,gate,up,down", "--rank", "4",
                    "--warmup", "2", "--valid-fraction", "0.1"] + extra
        let lr = extra.contains("--lr") ? [] : ["--lr", "5e-3"]
        let env = TestProcess.sameArithmetic(Self.gemm).merging(mpi) { $1 }
        let result = ranks == 1 ? try TestProcess.run([TestProcess.tinh] + args + lr, environment: env, timeout: 300)
                                : try TestProcess.launch(ranks: ranks, args + lr, environment: env, timeout: 300)
        #expect(result.status == 0, "\(ranks) rank(s):\n\(result.output)")
        let method = extra.firstIndex(of: "--method").map { extra[$0 + 1] } ?? "lora"
        if ranks > 1, method == "delta-lora" {
            // Every checkpoint compared the ranks' moved weights.
            let agreed = result.output.components(separatedBy: "all \(ranks) ranks hold identical delta-lora weights").count - 1
            #expect(agreed == 2, "\(ranks) ranks: \(agreed) weight agreements reported:\n\(result.output)")
        }
        if method == "adalora" {
            // The final masking step compared the ranks' masks (every masking step does).
            #expect(result.output.contains("masks identical on all \(ranks) rank(s)") && result.output.contains("42 of 84 triplets kept (target 42)"),
                    "\(ranks) rank(s):\n\(result.output)")
        }
        let lines = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        return try lines.map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    func outDir(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("tinh-dp-\(name)-\(UUID().uuidString)").path
    }

    /// 2 ranks × 1 micro-batch of 4 against 1 rank × 2 micro-batches of 4: the same micro-batches
    /// (the sampler gives rank r the r-th share of the global batch), the same shapes, library and
    /// thread count, so every micro-batch's loss and gradient are the same bits on both sides; each
    /// is computed from zero (MicroBatchGradients) and the two are summed by one float addition on
    /// both sides (float addition is commutative), and all that follows the all-reduce is the same
    /// code on the same values. So the whole trajectory is bit-identical by construction, on any CPU:
    /// every loss and gradient norm, the trained adapters and the moved weights. A bf16 base too
    /// (its rounding of activations is the same on the same bits).
    @Test(arguments: methods) func twoRanksTrainExactlyWhatOneRankTrains(method: String) throws {
        let oneOut = outDir("1"), twoOut = outDir("2")
        let one = try train(ranks: 1, gradAccum: 2, out: oneOut, extra: Self.methodArgs(method))
        let two = try train(ranks: 2, gradAccum: 1, out: twoOut, extra: Self.methodArgs(method))
        expectSameSteps(one, two, "1 rank × 2", "2 ranks", world: 2)
        // It learned something (the same thing).
        #expect((two.last?["loss"] as? Double ?? 99) < (two.first?["loss"] as? Double ?? 0))
        let a = try adapterValues(oneOut), b = try adapterValues(twoOut)
        #expect(a.count == b.count && !a.isEmpty)
        #expect(a == b, "final adapters differ in \(zip(a, b).filter { $0 != $1 }.count) of \(a.count) entries")
        // Methods that move the base: the moved weights agree too, and they did move.
        let extra = "/checkpoints/step-00000020/" + Checkpoints.extraFile
        #expect(FileManager.default.fileExists(atPath: oneOut + extra) == ["delta-lora", "adalora"].contains(method))
        if method == "delta-lora" {
            let w1 = try tensorValues(oneOut + extra), w2 = try tensorValues(twoOut + extra)
            let base = try tensorValues(oneOut + extra, skipMoved: true)
            #expect(w1.count == w2.count && w1.count == base.count && !w1.isEmpty)
            #expect((zip(w1, base).map { abs($0 - $1) }.max() ?? 0) > 1e-3, "W hardly moved")
            #expect(w1 == w2, "moved weights differ with 2 ranks")
        }
    }

    /// 4 ranks × 1 micro-batch of 2 against 2 ranks × 2 micro-batches of 2, again the same
    /// micro-batches bit for bit. With Open MPI's all-reduce pinned to recursive doubling
    /// (`TestProcess.recursiveDoubling`), 4 ranks sum (c₀ + c₁) + (c₂ + c₃); 2 ranks form c₀ + c₁
    /// and c₂ + c₃ locally (MicroBatchGradients) and add the two: the same additions, so the whole
    /// trajectory is bit-identical by construction. (1 rank × 4 sums ((c₀ + c₁) + c₂) + c₃, another
    /// order, so it is not compared to 4 ranks bit for bit; with Open MPI's default algorithms the
    /// order also changes with the message size.)
    @Test(arguments: methods) func fourRanksTrainExactlyWhatTwoRanksWithAccumulationTrain(method: String) throws {
        let twoOut = outDir("2x2"), fourOut = outDir("4")
        let two = try train(ranks: 2, gradAccum: 2, out: twoOut, extra: Self.methodArgs(method))
        let four = try train(ranks: 4, gradAccum: 1, out: fourOut, extra: Self.methodArgs(method), mpi: TestProcess.recursiveDoubling)
        expectSameSteps(two, four, "2 ranks × 2", "4 ranks", world: 4)
        let a = try adapterValues(twoOut), b = try adapterValues(fourOut)
        #expect(!a.isEmpty && a == b, "final adapters differ in \(zip(a, b).filter { $0 != $1 }.count) of \(a.count) entries")
        if method == "delta-lora" {
            let extra = "/checkpoints/step-00000020/" + Checkpoints.extraFile
            #expect(try tensorValues(twoOut + extra) == tensorValues(fourOut + extra), "moved weights differ with 4 ranks")
        }
    }

    /// Varlen batches (`--batch-tokens`) on 2 ranks against 1: the same global batches (every step's
    /// loss tokens agree), split by tokens over the ranks and packed into other micro-batches, so the
    /// sums run in another order: not bit for bit. Step 1 starts from the same adapters, so its mean
    /// loss agrees to the order-only estimate of a forward (each −log p moves by at most twice its
    /// logits' error, logits here below 20 in magnitude); later steps follow from updates that
    /// differ by rounding and are compared by their loss tokens only.
    @Test func twoRanksWithVarlenBatchesFollowOneRank() throws {
        let extra = ["--batch-tokens", "100", "--grad-accum", "1"]
        let one = try train(ranks: 1, gradAccum: 1, out: outDir("v1"), extra: extra)
        let two = try train(ranks: 2, gradAccum: 1, out: outDir("v2"), extra: extra)
        #expect(one.count == 20 && two.count == 20)
        for (x, y) in zip(one, two) {
            #expect(x["loss_tokens"] as? Int == y["loss_tokens"] as? Int && y["pad_share"] as? Double == 0)
        }
        let c = try ModelSource.load("tiny:2").config
        let (a, b) = (one[0]["loss"] as? Double ?? .nan, two[0]["loss"] as? Double ?? .nan)
        let tokens = one[0]["loss_tokens"] as? Int ?? 1
        #expect(abs(a - b) <= 2 * RoundingBound.forwardEstimate(c) * 20 + RoundingBound.gamma(tokens) * abs(a), "step 1: \(a) vs \(b)")
    }

    /// Every step's loss and gradient norm equal to the bit (metrics.jsonl prints Doubles exactly).
    func expectSameSteps(_ a: [[String: Any]], _ b: [[String: Any]], _ first: String, _ second: String, world: Int,
                         sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.count == 20 && b.count == 20, sourceLocation: sourceLocation)
        for (x, y) in zip(a, b) {
            let step = x["step"] as? Int ?? -1
            #expect(x["loss"] as? Double == y["loss"] as? Double, "step \(step): loss \(x["loss"]!) (\(first)) vs \(y["loss"]!) (\(second))",
                    sourceLocation: sourceLocation)
            #expect(x["grad_norm"] as? Double == y["grad_norm"] as? Double, "step \(step): grad norm \(x["grad_norm"]!) vs \(y["grad_norm"]!)",
                    sourceLocation: sourceLocation)
            #expect(y["world"] as? Int == world && x["loss_tokens"] as? Int == y["loss_tokens"] as? Int, sourceLocation: sourceLocation)
        }
    }

    func adapterValues(_ out: String) throws -> [Float] {
        try tensorValues(out + "/adapter/adapter_model.safetensors")
    }

    /// All tensors of a safetensors file, by name; with `skipMoved`, tiny:2's original weights of the same names instead.
    func tensorValues(_ path: String, skipMoved: Bool = false) throws -> [Float] {
        let file = try SafeTensorsFile(path: path)
        let names = file.tensors.map(\.name).sorted()
        guard skipMoved else { return try names.flatMap { try file.tensor($0).array } }
        let model = try TinyLlama.model(seed: 2)
        return try names.flatMap { name in
            let module = String(name.dropFirst(PEFTNames.prefix.count).dropLast(".base_layer.weight".count))
            return try #require(model.linear(named: module)).f32Weight.array
        }
    }

    @Test func ranksWhoseMovedWeightsDivergeFailAtTheCheckpoint() throws {
        let out = outDir("diverged")
        let result = try TestProcess.run([TestProcess.packageRoot.appendingPathComponent("launch/run").path, "-n", "2", "--",
                                          "train", "--model", "tiny", "--data", Self.data, "--out", out, "--steps", "3", "--batch", "2",
                                          "--seq", "48", "--method", "delta-lora", "--delta-start", "0"],
                                         environment: ["TINH_TEST_PERTURB_EXTRA_STATE_RANK": "1"], timeout: 120)
        #expect(!result.timedOut)
        #expect(result.status != 0)
        #expect(result.output.contains("delta-lora weights after step 3") && result.output.contains("rank 1 has"), "\(result.output)")
        #expect(!FileManager.default.fileExists(atPath: out + "/checkpoints/step-00000003"), "no checkpoint of diverged ranks")
    }

    /// A rank whose AdaLoRA masks differ (simulated) stops the job at the first masking step.
    @Test func ranksWhoseAdaLoRAMasksDifferFailAtTheMaskingStep() throws {
        let out = outDir("masks")
        let result = try TestProcess.run([TestProcess.packageRoot.appendingPathComponent("launch/run").path, "-n", "2", "--",
                                          "train", "--model", "tiny", "--data", Self.data, "--out", out, "--steps", "6", "--batch", "2",
                                          "--seq", "48", "--method", "adalora", "--rank", "4", "--target-r", "2", "--tinit", "2"],
                                         environment: ["TINH_TEST_PERTURB_EXTRA_STATE_RANK": "1"], timeout: 120)
        #expect(!result.timedOut)
        #expect(result.status != 0)
        #expect(result.output.contains("AdaLoRA masks after step 4") && result.output.contains("rank 1 has"), "\(result.output)")
    }

    @Test func ranksThatDisagreeFailAtStartOnEveryRank() throws {
        let out = outDir("mismatch")
        let result = try TestProcess.run([TestProcess.packageRoot.appendingPathComponent("launch/run").path, "-n", "2", "--",
                                          "train", "--model", "tiny", "--data", Self.data, "--out", out, "--steps", "2", "--batch", "2", "--seq", "32"],
                                         environment: ["TINH_TEST_RANK_SEED": "1:99"], timeout: 120)
        #expect(!result.timedOut)
        #expect(result.status != 0)
        #expect(result.output.contains("ranks disagree") && result.output.contains("rank 1 has"), "\(result.output)")
    }
}
