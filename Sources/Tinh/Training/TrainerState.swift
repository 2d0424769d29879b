/// What the trainer stores in a checkpoint beside the adapter and optimizer: enough to continue
/// exactly where it stopped. The data order needs no state: batches are a pure function of
/// (seed, step), so `nextStep` is the sampler's cursor.
public struct TrainerState: Codable, Equatable, Sendable {
    /// The model spec, read by `tinh export` for base_model_name_or_path.
    public var model: String
    public var config: TrainConfig
    /// Optimizer steps completed; the next step to run.
    public var nextStep: Int
    public var badSteps: Int
    /// Ranks of the run that wrote it (resuming with another count is allowed and reported).
    public var worldSize: Int
    /// Skipped (non-finite) steps in a row before `nextStep`; absent in older checkpoints.
    public var badStreak: Int?
}
