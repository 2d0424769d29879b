import Foundation

/// `--method full`: every weight trains (`FullFineTuning`), the baseline whose data-parallel step
/// all-reduces every weight gradient. There are no adapter modules; the export is the model.
public final class FullFineTuningMethod: FineTuningMethod {
    public static var id: MethodID { .full }
    public static var help: String { "every weight trains: the full fine-tuning baseline" }
    public static var trainsWholeModel: Bool { true }
    public static var lowRankRefusal: String? { "full fine-tuning changed every weight; export the model itself (--format gguf)" }

    private var count: Int?

    public static func validate(_ config: AdapterConfig) throws {
        guard config.layers == nil else { throw TinhError.invalidInput("--layers selects adapted blocks; --method full trains every weight") }
    }

    public init(config: AdapterConfig) throws {}

    public func attach(to model: DecoderModel, parameters: AdapterParameters) throws -> MethodAttachment {
        var out = MethodAttachment()
        out.layerSegments = FullFineTuning.attach(to: model, parameters: parameters)
        count = FullFineTuning.expectedCount(model)
        return out
    }

    /// The weights start as the model's own.
    public func initialize(rng: inout SeededGenerator) {}

    public func expectedTrainableCount() -> Int? { count }

    public static func peftFiles(config: AdapterConfig, tensors: [String: Tensor], state: [String: Tensor],
                                 baseModelName: String?) throws -> (tensors: [String: Tensor], config: Data) {
        throw TinhError.invalidInput("a full fine-tuning run has no adapter to export; the trained model is the run's model/model.safetensors")
    }

    public static func exportCheckpoint(_ checkpoint: VerifiedCheckpoint, baseModelName: String?, to directory: URL) throws {
        throw TinhError.invalidInput("\(checkpoint.directory.path) is a full fine-tuning checkpoint: there is no adapter to export; the trained model is the run's model/model.safetensors (or the checkpoint's \(Checkpoints.adapterFile), all weights under Hugging Face names)")
    }
}
