import Foundation

/// AdaLoRA in PEFT's saved form: per module `…q_proj.lora_A` [k, in], `lora_E` [k, 1] and
/// `lora_B` [out, k] holding only the k kept triplets (PEFT's `resize_state_dict_by_rank_pattern`),
/// and `rank_pattern` in adapter_config.json saying which of the init_r triplets they are.
enum AdaLoRAExport {
    static let modulePrefixLength = PEFTNames.prefix.count

    /// The slot tensors (full init_r) cut down to the kept triplets of each module's mask in `extra`
    /// (extra-state names: module key + "." + mask key), and the rank pattern.
    static func resized(_ tensors: [String: Tensor], extra: [String: Tensor]) throws -> ([String: Tensor], [String: [Bool]]) {
        var out: [String: Tensor] = [:]
        var pattern: [String: [Bool]] = [:]
        for (name, a) in tensors where name.hasSuffix(".lora_A") {
            let module = String(name.dropLast(".lora_A".count))
            guard let e = tensors[module + ".lora_E"], let b = tensors[module + ".lora_B"] else {
                throw TinhError.invalidInput("AdaLoRA export: \(module) lacks lora_E or lora_B")
            }
            guard let mask = extra[module + "." + AdaLoRABudget.maskKey], mask.count == a.shape[0] else {
                throw TinhError.invalidInput("AdaLoRA export: no mask of \(a.shape[0]) triplets for \(module)")
            }
            let (r, n, m) = (a.shape[0], a.shape[1], b.shape[0])
            let kept = (0..<r).filter { mask.data[$0] != 0 }
            let k = kept.count
            let ka = Tensor(shape: [k, n]), ke = Tensor(shape: [k, 1]), kb = Tensor(shape: [m, k])
            for (row, j) in kept.enumerated() {
                (ka.data + row * n).update(from: a.data + j * n, count: n)
                ke.data[row] = e.data[j]
                for o in 0..<m { kb.data[o * k + row] = b.data[o * r + j] }
            }
            out[module + ".lora_A"] = ka
            out[module + ".lora_E"] = ke
            out[module + ".lora_B"] = kb
            pattern[String(module.dropFirst(modulePrefixLength)) + ".lora_E"] = (0..<r).map { mask.data[$0] != 0 }
        }
        return (out, pattern)
    }
}

extension PEFTAdapter {
    /// Attaches a PEFT AdaLoRA adapter (Tinh's export or PEFT's own): the kept triplets go to the
    /// positions `rank_pattern` names, the pruned ones stay 0 and masked, so the model computes
    /// what the trained one did.
    static func loadAdaLoRA(configPath: String, weightsPath: String, into model: DecoderModel) throws -> AdapterSet {
        let v = try PEFTAdaLoRAConfig.read(path: configPath)
        func unsupported(_ what: String) -> TinhError { .unsupported("\(what) in \(configPath); Tinh loads plain AdaLoRA adapters") }
        let p = v.common
        if p.bias != "none" { throw unsupported("bias '\(p.bias)'") }
        if p.fanInFanOut { throw unsupported("fan_in_fan_out") }
        if let m = p.modulesToSave, !m.isEmpty { throw unsupported("modules_to_save \(m)") }
        guard v.initR > 0, p.loraAlpha.isFinite, p.loraAlpha > 0 else {
            throw TinhError.badFile(path: configPath, reason: "init_r (\(v.initR)) and lora_alpha (\(p.loraAlpha)) must be positive")
        }
        let (targets, layers) = try targetsAndLayers(p, model: model.config, path: configPath, kind: "AdaLoRA")
        var settings = v.settings
        settings.totalStep = nil  // loaded for use, not to continue the schedule
        settings.targetR = min(settings.targetR, v.initR)
        let config = AdapterConfig(method: .adalora, rank: v.initR, alpha: p.loraAlpha, targets: targets, layers: layers,
                                   options: AdaLoRAOptions(settings))
        let weights = try SafeTensorsFile(path: weightsPath)
        let set = try attach(config, to: model, configPath: configPath)
        do {
            guard let budget = (set.method as? AdaLoRAMethod)?.budget else { throw TinhError.invalidInput("no AdaLoRA adapter attached") }
            var expected = Set<String>()
            for (index, (name, _)) in set.modules.enumerated() {
                let key = PEFTNames.module(name)
                let patternKey = name + ".lora_E"
                let kept: [Bool]
                if let pattern = v.rankPattern {
                    guard let list = pattern[patternKey] ?? pattern[name + ".lora_E.default"] else {
                        throw TinhError.badFile(path: configPath, reason: "rank_pattern has no entry for \(patternKey)")
                    }
                    guard list.count == v.initR else {
                        throw TinhError.badFile(path: configPath, reason: "rank_pattern[\(patternKey)] has \(list.count) entries, init_r is \(v.initR)")
                    }
                    kept = list
                } else {
                    kept = Array(repeating: true, count: v.initR)
                }
                let positions = kept.indices.filter { kept[$0] }
                let slots = set.parameters.slots.filter { $0.name.hasPrefix(key + ".") }
                for slot in slots {
                    expected.insert(slot.name)
                    guard let info = weights.info(slot.name) ?? weights.info(slot.name + ".default") else {
                        throw TinhError.badFile(path: weightsPath, reason: "missing tensor '\(slot.name)'")
                    }
                    guard info.dtype.isFloatReadable else { throw TinhError.unsupported("tensor '\(info.name)' in \(weightsPath) has dtype \(info.dtype.rawValue)") }
                    let isB = slot.name.hasSuffix(".lora_B")
                    let want = isB ? [slot.shape[0], positions.count] : [positions.count, slot.shape[1]]
                    guard info.shape == want else {
                        throw TinhError.badFile(path: weightsPath, reason: "tensor '\(info.name)' has shape \(info.shape); rank_pattern keeps \(positions.count) triplets, so it must be \(want)")
                    }
                    let t = try weights.tensor(info.name)
                    let dst = set.parameters.values.data + slot.offset
                    dst.update(repeating: 0, count: slot.count)
                    if isB {
                        let (m, r, k) = (slot.shape[0], slot.shape[1], positions.count)
                        for o in 0..<m { for (col, j) in positions.enumerated() { dst[o * r + j] = t.data[o * k + col] } }
                    } else {
                        let n = slot.shape[1]
                        for (row, j) in positions.enumerated() { (dst + j * n).update(from: t.data + row * n, count: n) }
                    }
                }
                budget.setMask(index, kept: kept)
            }
            let stored = Set(weights.tensors.map { $0.name.hasSuffix(".default") ? String($0.name.dropLast(".default".count)) : $0.name })
            if let extra = stored.subtracting(expected).sorted().first {
                throw TinhError.badFile(path: weightsPath, reason: "tensor '\(extra)' matches no adapted module of this model and settings")
            }
        } catch {
            set.detach()
            throw error
        }
        return set
    }
}
