import Foundation

/// Writes an adapter in Hugging Face PEFT's format: `adapter_config.json` and
/// `adapter_model.safetensors` (F32, keys such as
/// `base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight` [r, in] and `lora_B.weight` [out, r];
/// for VeRA `...q_proj.vera_lambda_d` [r], `...vera_lambda_b` [out] and the shared
/// `base_model.vera_A` [r, maxIn], `base_model.vera_B` [maxOut, r]),
/// loadable with `PeftModel.from_pretrained(base, DIR)` and with `tinh ... --adapter DIR`.
public enum PEFTExport {
    public static let configFile = "adapter_config.json"
    public static let weightsFile = "adapter_model.safetensors"

    /// Exports the adapters attached to a model; the files count against `budget`, if any.
    public static func write(adapters: AdapterSet, baseModelName: String?, to directory: URL, budget: WriteBudget? = nil) throws {
        let p = adapters.parameters
        // The trainable slots, the method's frozen tensors (LoRA-FA's A) and what its modules share (VeRA's projections).
        let tensors = AdapterTensors.views(of: p.values, slots: p.slots).merging(adapters.frozenTensors()) { a, _ in a }
            .merging(adapters.method.exportTensors()) { a, _ in a }
        try write(config: adapters.config, tensors: tensors, baseModelName: baseModelName, to: directory, extra: adapters.extraState(), budget: budget)
    }

    /// Exports a saved checkpoint (verified first) without loading the model, where its method can.
    /// A nil `baseModelName` takes the "model" the trainer recorded in its state, if any.
    @discardableResult
    public static func write(checkpoint url: URL, baseModelName: String?, to directory: URL) throws -> VerifiedCheckpoint {
        let checkpoint = try Checkpoints.read(url)
        let baseModelName = baseModelName ?? checkpoint.modelSpec.map(Self.baseModelName(forSpec:))
        try checkpoint.state.adapter.method.type.exportCheckpoint(checkpoint, baseModelName: baseModelName, to: directory)
        return checkpoint
    }

    /// A checkpoint's adapter tensors and state, in its method's PEFT form.
    static func writeTensors(of checkpoint: VerifiedCheckpoint, baseModelName: String?, to directory: URL) throws {
        var tensors: [String: Tensor] = [:]
        for info in checkpoint.adapter.tensors {
            guard PEFTNames.split(info.name) != nil else {
                throw TinhError.badFile(path: checkpoint.adapter.path, reason: "tensor '\(info.name)' has no PEFT module name")
            }
            tensors[info.name] = try checkpoint.adapter.tensor(info.name)
        }
        var extra: [String: Tensor] = [:]
        if let file = checkpoint.extra {
            for info in file.tensors { extra[info.name] = try file.tensor(info.name) }
        }
        try write(config: checkpoint.state.adapter, tensors: tensors, baseModelName: baseModelName, to: directory, extra: extra)
    }

    /// Weights first, config last, each replaced atomically: a directory with a config always
    /// has complete weights beside it. The method maps its tensors and settings to PEFT's form
    /// (AdaLoRA keeps only its kept triplets, a PiSSA-initialised LoRA becomes a rank-2r LoRA for the original base).
    static func write(config: AdapterConfig, tensors: [String: Tensor], baseModelName: String?, to directory: URL,
                      extra: [String: Tensor] = [:], budget: WriteBudget? = nil) throws {
        let (tensors, json) = try config.method.type.peftFiles(config: config, tensors: tensors, state: extra, baseModelName: baseModelName)
        try AtomicDirectory.createDirectory(directory)
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: directory.appendingPathComponent(weightsFile).path, budget: budget)
        try BaseQuantizationRecord.write(config, to: directory, budget: budget)
        try AtomicFile.write(json, to: directory.appendingPathComponent(configFile).path, budget: budget)
    }

    /// `base_model_name_or_path` for a MODEL spec: the Hub id for `smollm2`, an absolute path for files.
    public static func baseModelName(forSpec spec: String) -> String {
        if spec == "smollm2" { return "HuggingFaceTB/SmolLM2-135M-Instruct" }
        if (try? TinyLlama.seed(fromSpec: spec)) ?? nil != nil { return spec }
        return URL(fileURLWithPath: (spec as NSString).expandingTildeInPath).standardizedFileURL.path
    }
}
