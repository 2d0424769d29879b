import Tinh

/// One rank's examples of one benchmark step, written by `tinh bench --batches-out DIR` as
/// DIR/rank-R.json, so that bench/peft_baseline.py --batches DIR trains PyTorch on exactly the
/// tokens Tinh trained on (padding each step's examples to its longest, as `padding=True` does).
struct StepReplay: Encodable {
    struct Example: Encodable {
        let ids: [Int32]
        /// 1 where predicting ids[i] (from position i − 1) is in the loss.
        let loss: [UInt8]
    }

    struct File: Encodable {
        let rank: Int
        let world: Int
        /// The first `warmup` steps are untimed on both sides.
        let warmup: Int
        let steps: [StepReplay]
    }

    let step: Int
    let examples: [Example]
    /// Tinh's count of the step's real input positions on this rank: Σ (length − 1). Both sides
    /// divide this same count by their time.
    let realTokens: Int

    init(step: Int, examples: StepExamples) {
        self.step = step
        self.examples = examples.examples.map { Example(ids: $0.ids, loss: $0.lossMask.map { $0 ? 1 : 0 }) }
        realTokens = examples.realTokens
    }

    enum CodingKeys: String, CodingKey { case step, examples, realTokens = "real_tokens" }
}
