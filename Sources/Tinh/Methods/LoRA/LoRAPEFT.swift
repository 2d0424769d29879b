import Foundation

/// PEFT's LoRA adapters (peft_type LORA, with `use_dora` DoRA's) read into Tinh.
extension PEFTAdapter {
    static func loadLoRA(configPath: String, weightsPath: String, into model: DecoderModel) throws -> AdapterSet {
        let peft = try PEFTAdapterConfig.read(path: configPath)
        let config = try adapterConfig(peft, model: model.config, path: configPath)
        let set = try attach(config, to: model, configPath: configPath)
        try fill(set, weightsPath: weightsPath)
        return set
    }

    /// The Tinh settings equivalent to a PEFT LoRA config on this model, or a clear error for
    /// what Tinh cannot apply.
    public static func adapterConfig(_ p: PEFTAdapterConfig, model: DecoderConfig, path: String) throws -> AdapterConfig {
        func unsupported(_ what: String) -> TinhError { .unsupported("\(what) in \(path); Tinh loads plain LoRA and DoRA adapters") }
        guard p.peftType.uppercased() == "LORA" else { throw unsupported("peft_type '\(p.peftType)'") }
        if p.bias != "none" { throw unsupported("bias '\(p.bias)'") }
        if p.fanInFanOut { throw unsupported("fan_in_fan_out") }
        if p.loraBias { throw unsupported("lora_bias") }
        if let m = p.modulesToSave, !m.isEmpty { throw unsupported("modules_to_save \(m)") }
        if !p.rankPattern.isEmpty || !p.alphaPattern.isEmpty { throw unsupported("per-module rank_pattern/alpha_pattern") }
        if p.layerReplication != nil { throw unsupported("layer_replication") }
        guard p.r > 0, p.loraAlpha.isFinite, p.loraAlpha > 0 else {
            throw TinhError.badFile(path: path, reason: "r (\(p.r)) and lora_alpha (\(p.loraAlpha)) must be positive")
        }
        let (targets, layers) = try targetsAndLayers(p, model: model, path: path)
        // An adapter saved right after a PiSSA init (not converted) holds A, B for the residual of
        // W: PEFT redoes the exact SVD split on load, and so does `--init pissa`. Schemes that change
        // W in other ways on load would silently give another model: refused.
        let pissa = p.initScheme == PiSSA.name
        if let scheme = p.initScheme, !pissa, !["gaussian", "orthogonal", "eva"].contains(scheme) {
            throw unsupported("init_lora_weights '\(scheme)' (it changes the base weights when PEFT loads the adapter)")
        }
        if pissa, p.useDoRA { throw unsupported("init_lora_weights 'pissa' with use_dora") }
        return AdapterConfig(method: p.useDoRA ? .dora : .lora, rank: p.r, alpha: p.loraAlpha, rsLoRA: p.useRSLoRA, targets: targets, layers: layers,
                             options: pissa ? LoRAOptions(pissa: true) : nil)
    }

}
