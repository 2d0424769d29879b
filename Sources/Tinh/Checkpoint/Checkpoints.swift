import Foundation

/// Training checkpoints under `RUN/checkpoints/`:
///
///     step-00000100/  adapter.safetensors    adapter values, PEFT tensor names
///                     optimizer.safetensors  AdamW moments: NAME.exp_avg, NAME.exp_avg_sq
///                     extra.safetensors      adapter state beyond the flat values (Delta-LoRA's moved
///                                            weights), only for methods that have some
///                     state.json             step, optimizer settings, adapter config, checksums, trainer state
///                     COMPLETE               written last
///     latest          names the newest complete checkpoint; replaced atomically
///
/// A checkpoint directory appears under its final name only when complete (`AtomicDirectory`),
/// and `latest` moves only after that, so a crash at any moment leaves the previous one usable.
public enum Checkpoints {
    public static let adapterFile = "adapter.safetensors"
    public static let optimizerFile = "optimizer.safetensors"
    public static let extraFile = "extra.safetensors"
    public static let stateFile = "state.json"
    public static let marker = "COMPLETE"
    public static let latestFile = "latest"
    public static let firstMomentSuffix = ".exp_avg"
    public static let secondMomentSuffix = ".exp_avg_sq"

    public static func directoryName(step: Int) -> String {
        let digits = String(step)
        return "step-" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    public static func checkpointsDirectory(run: URL) -> URL { run.appendingPathComponent("checkpoints", isDirectory: true) }

    /// Writes the checkpoint of `step`, points `latest` at it, and prunes all but the newest
    /// `keepLast` complete checkpoints (`keepLast` < 1 keeps all). `trainerState` must be one JSON
    /// object; `load` returns it byte for byte (without surrounding whitespace). Every file written
    /// counts against `budget`, if any.
    @discardableResult
    public static func save(step: Int, adapters: AdapterSet, optimizer: AdamW, trainerState: Data,
                            runDirectory: URL, keepLast: Int, budget: WriteBudget? = nil) throws -> URL {
        try save(step: step, adapters: adapters, optimizer: optimizer, trainerState: trainerState,
                 runDirectory: runDirectory, keepLast: keepLast, budget: budget, beforeMarker: { _ in })
    }

    /// `beforeMarker` runs inside the temporary directory after every file is written (tests inject faults there).
    static func save(step: Int, adapters: AdapterSet, optimizer: AdamW, trainerState: Data,
                     runDirectory: URL, keepLast: Int, budget: WriteBudget? = nil, beforeMarker: (URL) throws -> Void) throws -> URL {
        guard step >= 0 else { throw TinhError.invalidInput("checkpoint step must be non-negative, got \(step)") }
        let parameters = adapters.parameters
        guard optimizer.m.count == parameters.count, optimizer.v.count == parameters.count else {
            throw TinhError.invalidInput("checkpoint: the optimizer has \(optimizer.m.count) moments for \(parameters.count) adapter parameters")
        }
        let trainer = try CheckpointStateFile.checkTrainerState(trainerState)
        let directory = checkpointsDirectory(run: runDirectory)
        let name = directoryName(step: step)
        let target = directory.appendingPathComponent(name, isDirectory: true)
        try AtomicDirectory.createDirectory(directory)
        removeStaleTemporaries(in: directory)

        // Saving a step that exists (a run resumed from an earlier checkpoint): move the old one
        // aside first; AtomicDirectory never replaces a directory.
        let aside = directory.appendingPathComponent(".\(name).replaced-\(getpid())")
        let replacing = FileManager.default.fileExists(atPath: target.path)
        if replacing { try AtomicDirectory.rename(target, to: aside) }

        do {
            try writeDirectory(target, step: step, adapters: adapters, optimizer: optimizer, trainer: trainer, budget: budget, beforeMarker: beforeMarker)
        } catch {
            if replacing { try? AtomicDirectory.rename(aside, to: target) }  // put the old one back
            throw error
        }
        if replacing { try? FileManager.default.removeItem(at: aside) }
        try AtomicFile.write(Data((name + "\n").utf8), to: directory.appendingPathComponent(latestFile).path, budget: budget)
        try prune(directory, keepLast: keepLast, keeping: name)
        return target
    }

    static func writeDirectory(_ target: URL, step: Int, adapters: AdapterSet, optimizer: AdamW, trainer: Data,
                               budget: WriteBudget?, beforeMarker: (URL) throws -> Void) throws {
        let parameters = adapters.parameters
        try AtomicDirectory.create(at: target, marker: marker, budget: budget) { tmp in
            let adapterPath = tmp.appendingPathComponent(adapterFile).path
            let optimizerPath = tmp.appendingPathComponent(optimizerFile).path
            // Frozen tensors (LoRA-FA's A) ride along, so `tinh export --checkpoint` has the whole adapter.
            let values = AdapterTensors.views(of: parameters.values, slots: parameters.slots).merging(adapters.frozenTensors()) { a, _ in a }
            try SafeTensorsWriter.write(values,
                                        metadata: ["format": "tinh-adapter", "method": adapters.config.method.name], to: adapterPath, budget: budget)
            let moments = AdapterTensors.views(of: optimizer.m, slots: parameters.slots, suffix: firstMomentSuffix)
                .merging(AdapterTensors.views(of: optimizer.v, slots: parameters.slots, suffix: secondMomentSuffix)) { a, _ in a }
            try SafeTensorsWriter.write(moments, metadata: ["format": "tinh-adamw"], to: optimizerPath, budget: budget)
            var written = [(adapterFile, adapterPath), (optimizerFile, optimizerPath)]
            let extra = adapters.extraState()
            if !extra.isEmpty {
                let extraPath = tmp.appendingPathComponent(extraFile).path
                try SafeTensorsWriter.write(extra, metadata: ["format": "tinh-adapter-extra", "method": adapters.config.method.name], to: extraPath, budget: budget)
                written.append((extraFile, extraPath))
            }
            var files: [String: CheckpointState.FileCheck] = [:]
            for (file, path) in written {
                let sum = try Checksum.file(path)
                files[file] = .init(bytes: sum.bytes, fnv1a64: sum.hex)
            }
            let state = CheckpointState(
                format: CheckpointState.formatName, version: CheckpointState.currentVersion, step: step,
                adapter: adapters.config,
                optimizer: .init(name: "adamw", stepCount: optimizer.stepCount, beta1: optimizer.beta1,
                                 beta2: optimizer.beta2, epsilon: optimizer.epsilon),
                files: files, trainerStateFNV1a64: Checksum.hex(Checksum.fnv1a64(trainer)))
            try AtomicFile.write(CheckpointStateFile.encode(state, trainerState: trainer),
                                 to: tmp.appendingPathComponent(stateFile).path, budget: budget)
            try beforeMarker(tmp)
        }
    }

    /// Restores adapter values, extra state, AdamW moments and step count bit-exactly from `url` (a checkpoint
    /// directory, or a run directory meaning its `latest`). Everything is verified before
    /// anything is copied, so a failed load leaves `adapters` and `optimizer` untouched.
    public static func load(from url: URL, adapters: AdapterSet, optimizer: AdamW) throws -> (step: Int, trainerState: Data) {
        let checkpoint = try read(url)
        let state = checkpoint.state
        let path = checkpoint.directory.appendingPathComponent(stateFile).path
        let differences = AdapterConfigDiff.fields(saved: state.adapter, current: adapters.config)
        guard differences.isEmpty else {
            throw TinhError.invalidInput("checkpoint \(checkpoint.directory.path) was saved with other adapter settings: "
                + differences.joined(separator: "; "))
        }
        let o = state.optimizer
        guard o.name == "adamw" else { throw TinhError.badFile(path: path, reason: "optimizer '\(o.name)' is not adamw") }
        let settings = [("beta1", o.beta1, optimizer.beta1), ("beta2", o.beta2, optimizer.beta2), ("epsilon", o.epsilon, optimizer.epsilon)]
        if let (name, saved, now) = settings.first(where: { $0.1.bitPattern != $0.2.bitPattern }) {
            throw TinhError.invalidInput("checkpoint \(checkpoint.directory.path) was saved with AdamW \(name) \(saved), this run uses \(now)")
        }
        guard o.stepCount >= 0 else { throw TinhError.badFile(path: path, reason: "negative optimizer step count \(o.stepCount)") }
        let parameters = adapters.parameters
        guard optimizer.m.count == parameters.count else {
            throw TinhError.invalidInput("checkpoint: the optimizer has \(optimizer.m.count) moments for \(parameters.count) adapter parameters")
        }
        let slots = parameters.slots
        let frozen = adapters.frozenTensors()
        let valueNames = try AdapterTensors.check(checkpoint.adapter, slots: slots, alsoAllowed: Set(frozen.keys))
        try AdapterTensors.checkIdentical(checkpoint.adapter, frozen)
        let momentNames = try momentFileNames(checkpoint.optimizer, slots: slots)
        let extra = try extraTensors(checkpoint, expected: adapters.extraState())
        try AdapterTensors.copy(from: checkpoint.adapter, names: valueNames, slots: slots, into: parameters.values)
        if !extra.isEmpty { try adapters.restoreExtraState(extra) }  // after the values: adapters may derive state from them
        try AdapterTensors.copy(from: checkpoint.optimizer, names: momentNames, slots: slots, suffix: firstMomentSuffix, into: optimizer.m)
        try AdapterTensors.copy(from: checkpoint.optimizer, names: momentNames, slots: slots, suffix: secondMomentSuffix, into: optimizer.v)
        optimizer.stepCount = o.stepCount
        return (state.step, checkpoint.trainerState)
    }

    /// The extra-state tensors of `checkpoint`, checked against what the adapters hold (`expected`):
    /// the same names, shapes and F32, or an error naming the difference.
    static func extraTensors(_ checkpoint: VerifiedCheckpoint, expected: [String: Tensor]) throws -> [String: Tensor] {
        guard let file = checkpoint.extra else {
            guard expected.isEmpty else {
                throw TinhError.badFile(path: checkpoint.directory.path,
                                        reason: "has no \(extraFile), which method '\(checkpoint.state.adapter.method.name)' needs to resume")
            }
            return [:]
        }
        let stored = Set(file.tensors.map(\.name))
        if let extra = stored.subtracting(expected.keys).sorted().first {
            throw TinhError.badFile(path: file.path, reason: "tensor '\(extra)' matches no adapter state of this model and settings")
        }
        var out: [String: Tensor] = [:]
        for (name, tensor) in expected {
            guard let info = file.info(name) else { throw TinhError.badFile(path: file.path, reason: "missing tensor '\(name)'") }
            guard info.shape == tensor.shape, info.dtype == .F32 else {
                throw TinhError.badFile(path: file.path, reason: "tensor '\(name)' is \(info.dtype.rawValue) \(info.shape), the adapter needs F32 \(tensor.shape)")
            }
            out[name] = try file.tensor(name, borrow: true)
        }
        return out
    }

    /// The optimizer file must hold exactly NAME.exp_avg and NAME.exp_avg_sq for every slot.
    static func momentFileNames(_ file: SafeTensorsFile, slots: [AdapterParameters.Slot]) throws -> [String: String] {
        let both = slots.flatMap { s in [firstMomentSuffix, secondMomentSuffix].map {
            AdapterParameters.Slot(name: s.name + $0, offset: s.offset, shape: s.shape, group: s.group)
        } }
        return try AdapterTensors.check(file, slots: both)
    }
}
