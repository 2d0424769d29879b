import Foundation

/// Everything that decides a training run, fully resolved. Written to OUT/config.json, stored in
/// checkpoints, and compared across ranks at start.
public struct TrainConfig: Codable, Equatable, Sendable {
    public var model: String
    public var data: String
    /// A separate validation file; without one, `validFraction` of `data` is held out.
    public var valid: String?
    public var validFraction: Double = 0.05
    public var out: String
    public var adapter: AdapterConfig

    public var steps: Int = 100
    /// Examples per optimizer step over all ranks (each rank takes batch / ranks).
    public var batch: Int = 8
    /// Micro-batches per rank per step (each rank's share is split into this many passes).
    public var gradAccum: Int = 1
    /// Variable-length batches (`--batch-tokens`): each rank packs its examples back to back into
    /// micro-batches of at most this many tokens, with no pad and attention kept inside each
    /// example; ranks get equal tokens rather than equal examples. nil: one padded row per example.
    public var batchTokens: Int?
    public var seq: Int = 256
    public var lr: Float = 2e-4
    public var schedule: LearningRateSchedule.Decay = .cosine
    public var warmup: Int = 0
    public var minLRRatio: Float = 0
    public var weightDecay: Float = 0
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    /// Global-norm clipping (0 = off).
    public var maxGradNorm: Float = 1
    /// LoRA+: learning-rate multiplier of B over A (1 = plain LoRA). Defaults by method
    /// (`LoRAPlus.defaultRatio`: 16 for lora-plus, else 1); a no-op when A does not train.
    public var loraPlusRatio: Float
    /// Data order and split.
    public var seed: UInt64 = 0
    /// Gradient all-reduce: buckets of whole layers of about this many MiB, each started as soon as
    /// backward has finished its layers (`overlap`); otherwise one fused all-reduce after backward.
    /// Neither changes the result (see `GradientBuckets`), but all ranks must use the same.
    public var bucketMB: Double = TrainConfig.defaultBucketMB
    public var overlap: Bool = true
    public static let defaultBucketMB = 1.0
    /// Whether the node's ranks map one shared copy of the base, in its precision (`SharedBaseCache`).
    public var sharedBase: SharedBaseCache.Policy = .auto
    /// Gradient checkpointing: keep only each block's input and re-run its forward in backward
    /// (`DecoderModel.setRecomputesBlocks`). Less memory, more compute, the same gradients.
    public var gradientCheckpointing = false

    public var trainOnPrompt: Bool = false
    /// A `ChatTemplate.names` name overriding the model's chat template (`--chat-template`).
    public var chatTemplate: String?
    public var pack: Bool = false
    public var skipBadLines: Bool = false

    /// Evaluate every this many steps (0: only at the end).
    public var evalEvery: Int = 0
    /// Checkpoint every this many steps (0: only at the end).
    public var saveEvery: Int = 0
    public var keepLast: Int = 3
    public var logEvery: Int = 1
    /// Stop with an error after this many skipped (NaN/Inf) steps in a row.
    public var maxBadSteps: Int = 3

    public init(model: String, data: String, out: String, adapter: AdapterConfig = AdapterConfig()) {
        self.model = model
        self.data = data
        self.out = out
        self.adapter = adapter
        loraPlusRatio = adapter.method.type.defaultLoRAPlusRatio
    }

    /// Checks what can be checked before loading anything.
    public func validate(worldSize: Int) throws {
        func need(_ ok: Bool, _ message: @autoclosure () -> String) throws {
            if !ok { throw TinhError.invalidInput(message()) }
        }
        try need(steps > 0, "--steps must be positive, got \(steps)")
        try need(batch > 0 && gradAccum > 0, "--batch and --grad-accum must be positive")
        try need(batch % worldSize == 0, "--batch \(batch) does not divide over \(worldSize) ranks; use a multiple of \(worldSize)")
        try need((batch / worldSize) % gradAccum == 0,
                 "each rank's share of the batch (\(batch / worldSize)) does not split into --grad-accum \(gradAccum) micro-batches")
        try need(seq > 0, "--seq must be positive")
        if let batchTokens {
            try need(batchTokens >= seq, "--batch-tokens \(batchTokens) is below --seq \(seq): every example must fit in one micro-batch")
            try need(gradAccum == 1, "--batch-tokens sets the micro-batches itself; drop --grad-accum \(gradAccum)")
            try need(!pack, "--batch-tokens packs with attention kept inside each example; --pack (examples attending to each other) is the other choice, not both")
        }
        try need(lr > 0 && lr.isFinite, "--lr must be positive")
        try need(warmup >= 0 && (warmup == 0 || warmup < steps), "--warmup (\(warmup)) must be below --steps (\(steps))")
        try need(validFraction >= 0 && validFraction < 1, "--valid-fraction must be in [0, 1)")
        try need(evalEvery >= 0 && saveEvery >= 0 && logEvery > 0 && keepLast > 0 && maxBadSteps > 0,
                 "--eval-every, --save-every must be ≥ 0 and --log-every, --keep-last, --max-bad-steps positive")
        try need(loraPlusRatio > 0 && loraPlusRatio.isFinite, "--loraplus-ratio must be positive and finite")
        try need(bucketMB > 0 && bucketMB.isFinite, "--bucket-mb must be positive, got \(bucketMB)")
        try adapter.options.validate(steps: steps)
    }

    public func microBatch(worldSize: Int) -> Int { batch / worldSize / gradAccum }

    public var dataOptions: DataOptions {
        DataOptions(seq: seq, trainOnPrompt: trainOnPrompt, pack: pack, skipBadLines: skipBadLines,
                    validFraction: valid == nil ? validFraction : 0, validPath: valid, seed: seed,
                    chatTemplate: chatTemplate)
    }

    public var learningRate: LearningRateSchedule {
        LearningRateSchedule(peak: lr, warmupSteps: warmup, totalSteps: steps, decay: schedule, minRatio: minLRRatio)
    }
}
