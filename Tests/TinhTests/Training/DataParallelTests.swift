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

    /// Settings of each method's run: LoRA+ trains B 16 × faster, so its base rate is 16 × lower
    /// (a trajectory that tiny can follow without amplifying rounding differences); VeRA learns
    /// more slowly per step and takes a larger rank and rate.
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
        // PiSSA trains W's principal directions, which move faster than a zero-initialised B: at
        // --lr 5e-3 Adam amplifies the summation-order rounding of 1 vs N ranks to 1.5e-5 of the
        // largest entry within 20 steps; at 1e-3 it stays near 3e-6, and the loss still falls.
        case "pissa": return ["--method", "lora", "--init", "pissa", "--lr", "1e-3"]
        case "lora-bf16": return ["--method", "lora", "--base-precision", "bf16"]
        default: return ["--method", method]
        }
    }

    func train(ranks: Int, out: String, extra: [String] = []) throws -> [[String: Any]] {
        let args = ["train", "--model", "tiny:2", "--data", Self.data, "--out", out, "--steps", "20", "--batch", "8",
                    "--seq", "48", "--targets", "q,k,v,o,gate,up,down", "--rank", "4",
                    "--warmup", "2", "--valid-fraction", "0.1"] + extra
        let lr = extra.contains("--lr") ? [] : ["--lr", "5e-3"]
        let result = ranks == 1 ? try TestProcess.run([TestProcess.tinh] + args + lr, timeout: 300)
                                : try TestProcess.launch(ranks: ranks, args + lr, timeout: 300)
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

    @Test(arguments: methods) func twoAndFourRanksFollowTheOneRankTrajectory(method: String) throws {
        let oneOut = outDir("1")
        var manyOut: [Int: String] = [:]
        let one = try train(ranks: 1, out: oneOut, extra: Self.methodArgs(method))
        #expect(one.count == 20)
        for ranks in [2, 4] {
            manyOut[ranks] = outDir("\(ranks)")
            let many = try train(ranks: ranks, out: manyOut[ranks]!, extra: Self.methodArgs(method))
            #expect(many.count == 20)
            for (a, b) in zip(one, many) {
                let la = try #require(a["loss"] as? Double), lb = try #require(b["loss"] as? Double)
                let ga = try #require(a["grad_norm"] as? Double), gb = try #require(b["grad_norm"] as? Double)
                // A bf16 base rounds activations to 8 significant bits before each frozen GEMM: the
                // last-bit differences of a gradient summed in another order (over ranks) flip some of
                // those roundings from the second step on, which shows at ~1e-4 (bf16's 2⁻⁹ times a
                // few). The first step, before any update, is as exact as f32.
                let firstStep = (a["step"] as? Int) == 0
                let gradTolerance = method == "lora-bf16" && !firstStep ? 2e-3 : 1e-4
                #expect(abs(la - lb) <= 1e-5 * abs(la), "step \(a["step"]!): loss \(la) (1 rank) vs \(lb) (\(ranks) ranks)")
                #expect(abs(ga - gb) <= gradTolerance * abs(ga), "step \(a["step"]!): grad norm \(ga) vs \(gb)")
                #expect(b["world"] as? Int == ranks && a["loss_tokens"] as? Int == b["loss_tokens"] as? Int)
            }
            // It learned something (the same thing).
            #expect((many.last?["loss"] as? Double ?? 99) < (many.first?["loss"] as? Double ?? 0))
            let a = try adapterValues(oneOut), b = try adapterValues(manyOut[ranks]!)
            #expect(a.count == b.count && !a.isEmpty)
            let scale = a.map { abs($0) }.max() ?? 1
            let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= (method == "lora-bf16" ? 5e-3 : 1e-5) * scale, "final adapters differ by \(worst) (largest entry \(scale)) with \(ranks) ranks")
            // Methods that move the base: the moved weights agree too.
            let extra = "/checkpoints/step-00000020/" + Checkpoints.extraFile
            #expect(FileManager.default.fileExists(atPath: oneOut + extra) == ["delta-lora", "adalora"].contains(method))
            if method == "delta-lora" {
                let w1 = try tensorValues(oneOut + extra), wn = try tensorValues(manyOut[ranks]! + extra)
                let base = try tensorValues(oneOut + extra, skipMoved: true)
                #expect(w1.count == wn.count && w1.count == base.count && !w1.isEmpty)
                let moved = zip(w1, base).map { abs($0 - $1) }.max() ?? 0
                let differ = zip(w1, wn).map { abs($0 - $1) }.max() ?? 0
                #expect(moved > 1e-3, "W hardly moved (\(moved))")
                #expect(differ <= 1e-4 * moved, "moved weights differ by \(differ) (moved by up to \(moved)) with \(ranks) ranks")
            }
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
