import Foundation

/// Continuing a run from a checkpoint: rank 0 reads it and every rank receives the state.
extension Trainer {
    /// What the trainer stores in a checkpoint beside the adapter and optimizer.
    var trainerState: TrainerState {
        TrainerState(model: loaded.spec, config: config, nextStep: step, badSteps: badSteps, worldSize: comm.size, badStreak: badStreak)
    }

    /// Rank 0 reads the checkpoint and sends adapter values, moments and counters to every rank,
    /// so the ranks need no shared file system. Returns a line saying what was resumed.
    func resume(from url: URL) throws -> String {
        var state: TrainerState?
        try comm.together("reading the checkpoint \(url.path)") {
            guard comm.isRoot else { return }
            let (_, bytes) = try Checkpoints.load(from: url, adapters: adapters, optimizer: optimizer)
            state = try JSONDecoder().decode(TrainerState.self, from: bytes)
        }
        let shared = try comm.broadcastBytes(comm.isRoot ? Array(try JSONEncoder.sorted.encode(state!)) : [], root: 0)
        let restored = try JSONDecoder().decode(TrainerState.self, from: Data(shared))
        for buffer in [adapters.parameters.values, optimizer.m, optimizer.v] {
            try comm.broadcast(UnsafeMutableRawBufferPointer(start: buffer.data, count: buffer.count * 4), root: 0)
        }
        // Extra state (Delta-LoRA's moved weights): rank 0's restored tensors go to every rank, and
        // every rank then restores from them (on rank 0 a repeat), after the values it depends on.
        let extra = adapters.extraState()
        if !extra.isEmpty {
            for name in extra.keys.sorted() {
                let t = extra[name]!
                try comm.broadcast(UnsafeMutableRawBufferPointer(start: t.data, count: t.count * 4), root: 0)
            }
            try adapters.restoreExtraState(extra)
        }
        var adamSteps = [Int64(optimizer.stepCount)]
        try adamSteps.withUnsafeMutableBytes { try comm.broadcast($0, root: 0) }
        optimizer.stepCount = Int(adamSteps[0])
        step = restored.nextStep
        badSteps = restored.badSteps
        badStreak = restored.badStreak ?? 0
        return resumeNote(restored, from: url)
    }

    /// The line saying what was resumed, and which settings differ from the checkpoint's.
    func resumeNote(_ restored: TrainerState, from url: URL) -> String {
        var note = "resuming after step \(restored.nextStep) from \(url.path)"
        if restored.worldSize != comm.size {
            note += " (written by \(restored.worldSize) rank(s), now \(comm.size): same global batch, so the same trajectory up to summation order)"
        }
        var differences: [String] = []
        var old = restored.config, new = config
        old.out = ""; new.out = ""
        if old.steps != new.steps { differences.append("--steps \(old.steps) → \(new.steps)") }
        old.steps = new.steps
        // How gradients are reduced never changes the result.
        // Neither does gradient checkpointing (the recomputed forward gives the same values).
        old.bucketMB = new.bucketMB; old.overlap = new.overlap; old.sharedBase = new.sharedBase
        old.gradientCheckpointing = new.gradientCheckpointing
        if old != new { differences.append("other settings differ from the checkpoint's config.json") }
        if !differences.isEmpty { note += "; note: " + differences.joined(separator: ", ") + " (the result will differ from an uninterrupted run)" }
        return note
    }
}
