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
        // The trainable slots, each module's frozen tensors (LoRA-FA's A) and tensors the modules share (VeRA's projections).
        var tensors = AdapterTensors.views(of: p.values, slots: p.slots).merging(adapters.frozenTensors()) { a, _ in a }
        for (_, adapter) in adapters.modules {
            tensors.merge(adapter.exportTensors()) { first, _ in first }
        }
        try write(config: adapters.config, tensors: tensors, baseModelName: baseModelName, to: directory, extra: adapters.extraState(), budget: budget)
    }

    /// Exports a saved checkpoint (verified first) without loading the model. A nil
    /// `baseModelName` takes the "model" the trainer recorded in its state, if any.
    @discardableResult
    public static func write(checkpoint url: URL, baseModelName: String?, to directory: URL) throws -> VerifiedCheckpoint {
        let checkpoint = try Checkpoints.read(url)
        if checkpoint.state.adapter.method == FullFineTuning.method {
            throw TinhError.invalidInput("\(url.path) is a full fine-tuning checkpoint: there is no adapter to export; the trained model is the run's model/model.safetensors (or the checkpoint's \(Checkpoints.adapterFile), all weights under Hugging Face names)")
        }
        let baseModelName = baseModelName ?? checkpoint.modelSpec.map(Self.baseModelName(forSpec:))
        if checkpoint.state.adapter.method == "vera" {
            try writeVeRA(checkpoint, baseModelName: baseModelName, to: directory)
            return checkpoint
        }
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
        return checkpoint
    }

    /// Weights first, config last, each replaced atomically: a directory with a config always
    /// has complete weights beside it.
    /// AdaLoRA keeps only the triplets its masks (in `extra`, the adapters' extra state) keep; a
    /// PiSSA-initialised LoRA becomes the rank-2r LoRA for the original base (`PiSSA`).
    static func write(config: AdapterConfig, tensors: [String: Tensor], baseModelName: String?, to directory: URL,
                      extra: [String: Tensor] = [:], budget: WriteBudget? = nil) throws {
        var tensors = tensors
        let json: Data
        if config.method == "vera" {
            json = try PEFTVeRAConfig(config, baseModelName: baseModelName).encoded()
        } else if config.method == "adalora" {
            let (resized, pattern) = try AdaLoRAExport.resized(tensors, extra: extra)
            tensors = resized
            json = try PEFTAdaLoRAConfig(config, baseModelName: baseModelName, rankPattern: pattern).encoded()
        } else if config.initialization == "pissa" {
            tensors = try PiSSA.convertedTensors(tensors)
            var peft = try PEFTAdapterConfig(config, baseModelName: baseModelName)
            peft.r = 2 * config.rank
            peft.loraAlpha = config.rsLoRA ? config.alpha * Float(2).squareRoot() : 2 * config.alpha
            json = try peft.encoded()
        } else {
            json = try PEFTAdapterConfig(config, baseModelName: baseModelName).encoded()
        }
        try AtomicDirectory.createDirectory(directory)
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: directory.appendingPathComponent(weightsFile).path, budget: budget)
        try BaseQuantizationRecord.write(config, to: directory, budget: budget)
        try AtomicFile.write(json, to: directory.appendingPathComponent(configFile).path, budget: budget)
    }

    /// A VeRA checkpoint holds the vectors and the seed; the projections' shapes come from the
    /// model, so the model the run recorded is loaded to regenerate them.
    static func writeVeRA(_ checkpoint: VerifiedCheckpoint, baseModelName: String?, to directory: URL) throws {
        guard let spec = checkpoint.modelSpec else {
            throw TinhError.badFile(path: checkpoint.directory.path, reason: "records no model; a VeRA export needs it to regenerate the projections")
        }
        let loaded = try ModelSource.load(spec)
        let set = try AdapterSet(model: loaded.model, config: checkpoint.state.adapter)
        defer { set.detach() }
        let slots = set.parameters.slots
        let names = try AdapterTensors.check(checkpoint.adapter, slots: slots)
        try AdapterTensors.copy(from: checkpoint.adapter, names: names, slots: slots, into: set.parameters.values)
        try write(adapters: set, baseModelName: baseModelName, to: directory)
    }

    /// `base_model_name_or_path` for a MODEL spec: the Hub id for `smollm2`, an absolute path for files.
    public static func baseModelName(forSpec spec: String) -> String {
        if spec == "smollm2" { return "HuggingFaceTB/SmolLM2-135M-Instruct" }
        if (try? TinyLlama.seed(fromSpec: spec)) ?? nil != nil { return spec }
        return URL(fileURLWithPath: (spec as NSString).expandingTildeInPath).standardizedFileURL.path
    }
}
