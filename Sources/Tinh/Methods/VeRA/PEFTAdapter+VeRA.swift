import Foundation

extension PEFTAdapter {
    /// Attaches a PEFT VeRA adapter (Tinh's export or PEFT's own): the per-module vectors go into
    /// the flat buffer, and the file's `base_model.vera_A` / `vera_B` replace the projections Tinh
    /// would generate, so an adapter whose projections PyTorch drew loads exactly.
    static func loadVeRA(config v: PEFTVeRAConfig, configPath: String, weightsPath: String, into model: DecoderModel) throws -> AdapterSet {
        func unsupported(_ what: String) -> TinhError { .unsupported("\(what) in \(configPath); Tinh loads plain VeRA adapters") }
        let p = v.common
        if p.bias != "none" { throw unsupported("bias '\(p.bias)'") }
        if p.fanInFanOut { throw unsupported("fan_in_fan_out") }
        if let m = p.modulesToSave, !m.isEmpty { throw unsupported("modules_to_save \(m)") }
        guard v.saveProjection else {
            throw unsupported("save_projection false (the projections are PyTorch's draw, which Tinh does not reproduce; save them with save_projection=True)")
        }
        guard p.r > 0 else { throw TinhError.badFile(path: configPath, reason: "r (\(p.r)) must be positive") }
        let (targets, layers) = try targetsAndLayers(p, model: model.config, path: configPath, kind: "VeRA")
        let config = AdapterConfig(method: .vera, rank: p.r, targets: targets, layers: layers,
                                   options: VeRAOptions(projectionSeed: v.projectionPRNGKey, initialD: v.dInitial.isFinite ? v.dInitial : nil))
        let weights = try SafeTensorsFile(path: weightsPath)
        let set = try attach(config, to: model, configPath: configPath)
        do {
            let slots = set.parameters.slots
            let projections = [VeRA.projectionAKey, VeRA.projectionBKey]
            let names = try AdapterTensors.check(weights, slots: slots, key: canonicalKey, requireF32: false, alsoAllowed: Set(projections))
            for name in projections where names[name] == nil {
                throw TinhError.badFile(path: weightsPath, reason: "missing tensor '\(name)' (the shared VeRA projection)")
            }
            try AdapterTensors.copy(from: weights, names: names, slots: slots, into: set.parameters.values)
            guard let shared = VeRA.projections(of: set) else { throw TinhError.invalidInput("no VeRA adapter attached") }
            do {
                try shared.replaceProjections(a: weights.tensor(names[VeRA.projectionAKey]!), b: weights.tensor(names[VeRA.projectionBKey]!))
            } catch let TinhError.invalidInput(m) {
                throw TinhError.badFile(path: weightsPath, reason: m)
            }
        } catch {
            set.detach()
            throw error
        }
        return set
    }
}
