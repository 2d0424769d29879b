import Foundation
import Testing
@testable import Tinh

/// Each method against PEFT's own numbers (Fixtures/peft-methods/<method>/, from
/// make_peft_method_references.py): from the initial adapter PEFT saved, 3 AdamW steps on the same
/// batch of the tiny llama fixture give PEFT's loss at every step, and after step 1's backward the
/// gradient norm of every adapter tensor.
@Suite struct PEFTReferenceTests {
    struct Reference: Decodable {
        var method: String
        var loraplus_ratio: Float?
        var lr: Float
        var eps: Float
        var weight_decay: Float
        var batch: Int
        var seq: Int
        var tokens: [Int32]
        var labels: [Int32]
        var losses: [Double]
        var final_loss: Double
        var grad_norms_after_step_1: [String: Double]
    }

    static let methods = ["lora", "rslora", "dora", "loraplus", "vera"]

    /// Losses: two float32 forwards of the same weights that differ in summation order put each logit
    /// within `RoundingBound.forwardEstimate` (1.5e-5) of the largest |logit| (≈ 1 here); a mean
    /// cross-entropy moves by at most twice that, ≈ 3e-5 absolute on losses of ≈ 5, 6e-6 relative:
    /// hence the 1e-5 bound. Gradients go through the same forward and a backward of the same depth,
    /// and three AdamW steps amplify nothing at step 1: 1e-4 relative.
    static let lossTolerance = 1e-5, gradientTolerance = 1e-4

    @Test(arguments: methods)
    func threeStepsMatchPEFT(method: String) throws {
        let dir = ReferenceFiles.fixtures.appendingPathComponent("peft-methods/\(method)")
        let ref = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: dir.appendingPathComponent("reference.json")))
        let (config, weights) = try ModelFileLoader.load(path: FamilyFixture.directory("llama").path)
        let model = try DecoderModel(config: config, weights: weights)
        let initial = try FamilyFixture.unpackedCopy(of: dir.appendingPathComponent("initial"))
        defer { try? FileManager.default.removeItem(at: initial) }
        let set = try PEFTAdapter.load(dir: initial.path, into: model)
        let p = set.parameters
        let groups = ref.loraplus_ratio.map { LoRAPlus.groups(set, ratio: $0, weightDecay: ref.weight_decay) }
            ?? set.optimizerGroups(weightDecay: ref.weight_decay)
        let adam = AdamW(parameterCount: p.count, epsilon: ref.eps)
        func loss() throws -> LossResult { try model.forward(tokens: ref.tokens, targets: ref.labels, batch: ref.batch, seq: ref.seq) }
        for step in 0..<ref.losses.count {
            p.grads.zero()
            let l = try loss()
            #expect(abs(l.mean - ref.losses[step]) <= Self.lossTolerance * abs(ref.losses[step]),
                    "\(method) step \(step + 1): loss \(l.mean) vs PEFT's \(ref.losses[step])")
            model.backward(lossScale: 1 / Float(l.count))
            if step == 0 {
                #expect(Set(p.slots.map(\.name)) == Set(ref.grad_norms_after_step_1.keys), "\(method): the adapter tensors")
                for slot in p.slots {
                    let g = UnsafeBufferPointer(start: p.grad(p.slots.firstIndex(of: slot)!), count: slot.count)
                    let norm = g.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
                    let want = try #require(ref.grad_norms_after_step_1[slot.name])
                    #expect(abs(norm - want) <= Self.gradientTolerance * want, "\(method) \(slot.name): ‖g‖ \(norm) vs PEFT's \(want)")
                }
            }
            adam.step(params: p.values.data, grads: p.grads.data, groups: groups, lr: ref.lr)
        }
        let final = try loss().mean
        #expect(abs(final - ref.final_loss) <= Self.lossTolerance * abs(ref.final_loss), "\(method): final loss \(final) vs PEFT's \(ref.final_loss)")
    }
}
