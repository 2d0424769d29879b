import Foundation

/// Loads a PEFT-format adapter directory (Tinh's export or one PEFT saved) onto a model: the method
/// whose `peftTypes` hold its peft_type reads it. The pieces every method's reader shares are here.
public enum PEFTAdapter {
    /// Reads `dir`, attaches its method's adapter set to `model` and fills it from the weights.
    /// Any problem is an error naming the file; on error the model is left without adapters.
    public static func load(dir: String, into model: DecoderModel) throws -> AdapterSet {
        let directory = URL(fileURLWithPath: (dir as NSString).expandingTildeInPath, isDirectory: true)
        let configPath = directory.appendingPathComponent(PEFTExport.configFile).path
        let weightsPath = directory.appendingPathComponent(PEFTExport.weightsFile).path
        guard FileManager.default.fileExists(atPath: configPath) else {
            throw TinhError.badFile(path: directory.path, reason: "no \(PEFTExport.configFile) (an adapter directory holds \(PEFTExport.configFile) and \(PEFTExport.weightsFile))")
        }
        let peft = try PEFTAdapterConfig.read(path: configPath)
        guard let method = MethodID.allCases.first(where: { $0.type.peftTypes.contains(peft.peftType.uppercased()) }) else {
            let known = MethodID.allCases.flatMap { $0.type.peftTypes }
            throw TinhError.unsupported("peft_type '\(peft.peftType)' in \(configPath); Tinh loads peft_type \(known.joined(separator: ", "))")
        }
        return try method.type.loadPEFT(configPath: configPath, weightsPath: weightsPath, into: model)
    }

    /// Copies the weights of `weightsPath` into the slots of `set` (detached again on error).
    static func fill(_ set: AdapterSet, weightsPath: String) throws {
        do {
            let weights = try SafeTensorsFile(path: weightsPath)
            let slots = set.parameters.slots
            let names = try AdapterTensors.check(weights, slots: slots, key: canonicalKey, requireF32: false)
            try AdapterTensors.copy(from: weights, names: names, slots: slots, into: set.parameters.values)
        } catch {
            set.detach()
            throw error
        }
    }

    /// Attaches `config` to `model`; a setting that does not fit the model is an error about the file.
    static func attach(_ config: AdapterConfig, to model: DecoderModel, configPath: String) throws -> AdapterSet {
        do { return try AdapterSet(model: model, config: config) } catch let TinhError.invalidInput(m) {
            throw TinhError.badFile(path: configPath, reason: m)
        }
    }

    /// A PEFT key without the adapter-name segment PEFT sometimes keeps
    /// ("...q_proj.lora_A.default.weight" -> "...q_proj.lora_A.weight"). DoRA's magnitude is saved
    /// by PEFT as "...q_proj.lora_magnitude_vector" (its in-memory name ends ".default.weight").
    static let magnitude = "lora_magnitude_vector"

    static func canonicalKey(_ key: String) -> String {
        guard let (module, tensor) = PEFTNames.split(key) else { return key }
        if tensor.hasPrefix(magnitude + ".") { return PEFTNames.module(module) + "." + magnitude }
        let parts = tensor.split(separator: ".")
        guard parts.count == 3 else { return key }
        return PEFTNames.module(module) + "." + parts[0] + "." + parts[2]
    }

    /// Tinh's short target names and block list (nil = all) for PEFT's target_modules and
    /// layers_to_transform on this model.
    static func targetsAndLayers(_ p: PEFTAdapterConfig, model: DecoderConfig, path: String,
                                 kind: String = "LoRA") throws -> (targets: [String], layers: [Int]?) {
        let matches = try matcher(p.targetModules, path: path)
        let allowed = p.layersToTransform.map(Set.init)
        var pairs = Set<String>(), targets: [String] = [], layers = Set<Int>()
        for i in 0..<model.numLayers where allowed?.contains(i) ?? true {
            for t in AdapterConfig.targets(for: model.spec.projections) {
                guard let suffix = AdapterConfig.moduleNames[t], matches(DecoderConfig.blockPrefix(i) + suffix) else { continue }
                pairs.insert("\(i).\(t)")
                layers.insert(i)
                if !targets.contains(t) { targets.append(t) }
            }
        }
        guard !pairs.isEmpty else {
            throw TinhError.badFile(path: path, reason: "target_modules \(describe(p.targetModules)) matches no projection of this model")
        }
        // Tinh adapts the same projections in every selected block.
        guard pairs.count == targets.count * layers.count else {
            throw TinhError.unsupported("target_modules \(describe(p.targetModules)) selecting different projections in different blocks in \(path); Tinh loads plain \(kind) adapters")
        }
        return (targets, layers.count == model.numLayers ? nil : layers.sorted())
    }

    /// PEFT's rule: a listed name matches a module named exactly so or ending in ".name"; a
    /// string is a regex that must match the whole module name.
    static func matcher(_ targets: PEFTAdapterConfig.TargetModules, path: String) throws -> (String) -> Bool {
        switch targets {
        case .names(let names):
            return { module in names.contains { module == $0 || module.hasSuffix("." + $0) } }
        case .regex(let pattern):
            let regex: NSRegularExpression
            do { regex = try NSRegularExpression(pattern: "^(?:" + pattern + ")$") } catch {
                throw TinhError.badFile(path: path, reason: "target_modules '\(pattern)' is not a regular expression")
            }
            return { module in
                let range = NSRange(module.startIndex..., in: module)
                return regex.firstMatch(in: module, range: range) != nil
            }
        }
    }

    static func describe(_ t: PEFTAdapterConfig.TargetModules) -> String {
        switch t {
        case .names(let n): return "[\(n.joined(separator: ", "))]"
        case .regex(let r): return "'\(r)'"
        }
    }
}
