import Foundation

/// Mean loss, perplexity and next-token accuracy over the loss-carrying tokens of a set of
/// examples. Under MPI each rank scores every size-th batch and the sums are all-reduced, so every
/// rank gets the same, exact totals.
public struct EvalResult: Codable, Sendable, Equatable {
    public var examples: Int
    public var tokens: Int
    public var loss: Double
    public var perplexity: Double
    public var accuracy: Double
}

public enum Evaluator {
    public static func evaluate(_ model: DecoderModel, _ set: ExampleSet, batchSize: Int,
                                comm: Communicator = LocalCommunicator()) throws -> EvalResult {
        guard batchSize > 0 else { throw TinhError.invalidInput("the eval batch size must be positive") }
        var sums: [Double] = [0, 0, 0]  // loss, tokens, correct
        var batchIndex = 0
        for start in stride(from: 0, to: set.count, by: batchSize) {
            defer { batchIndex += 1 }
            guard batchIndex % comm.size == comm.rank else { continue }
            let indices = Array(start..<min(start + batchSize, set.count))
            let batch = try set.batch(indices)
            let r = try model.forward(tokens: batch.tokens, targets: batch.targets, batch: batch.batch, seq: batch.seq, accuracy: true,
                                         forBackward: false)
            sums[0] += r.loss
            sums[1] += Double(r.count)
            sums[2] += Double(r.correct)
        }
        try comm.allreduceSum(&sums)
        let tokens = sums[1]
        let mean = tokens > 0 ? sums[0] / tokens : .nan
        return EvalResult(examples: set.count, tokens: Int(tokens), loss: mean, perplexity: exp(mean),
                          accuracy: tokens > 0 ? sums[2] / tokens : .nan)
    }
}
