import Foundation

/// Checkpoints during a run, and the error that sends the user back to the last good one.
extension Trainer {
    /// After `step` steps: the ranks compare their extra state, rank 0 writes the checkpoint, and
    /// rank 0 reports both.
    func checkpoint(onEvent: (TrainingEvent) -> Void) throws {
        let agreed = try checkAgreement(afterStep: step - 1, checkpoint: true)
        let path = try saveCheckpoint()
        if comm.isRoot {
            onEvent(.checkpoint(step: step - 1, path: path))
            if let agreed { onEvent(.message("all \(comm.size) ranks hold identical \(config.adapter.method.name) weights (FNV-1a \(agreed))")) }
        }
    }

    /// Rank 0 writes a checkpoint of the steps done so far; every rank learns whether it worked.
    func saveCheckpoint() throws -> String {
        var path = ""
        doing("writing the checkpoint after step \(step)")
        try comm.together("writing the checkpoint after step \(step)") {
            guard comm.isRoot else { return }
            do {
                path = try Checkpoints.save(step: step, adapters: adapters, optimizer: optimizer,
                                            trainerState: try JSONEncoder.sorted.encode(trainerState),
                                            runDirectory: outDirectory, keepLast: config.keepLast, budget: files.budget).path
            } catch {
                // A full disk or read-only --out: the save left the previous checkpoint as it was.
                let previous = Checkpoints.complete(in: Checkpoints.checkpointsDirectory(run: outDirectory)).last
                throw TinhError.invalidInput("cannot write the checkpoint after step \(step): \(error); "
                    + (previous.map { "the previous checkpoint \($0.url.path) is intact; " } ?? "no earlier checkpoint exists; ")
                    + "free some space (or make --out writable) and continue with the same command plus --resume")
            }
        }
        return path
    }

    /// The error that ends a run after `--max-bad-steps` skipped steps in a row: the step, with
    /// `--debug` where the first non-finite value is, and the newest checkpoint to go back to.
    func numericalFault(step: Int, loss: Double) -> TinhError {
        // Steps are 1-based here, as in the progress lines.
        var text = "stopping after step \(step + 1): steps \(step + 2 - badStreak)-\(step + 1) had a non-finite "
            + (loss.isFinite ? "gradient" : "loss") + " and were skipped, \(badStreak) in a row (--max-bad-steps \(config.maxBadSteps))"
        if debug {
            text += "; first non-finite value: " + (NonFinite.firstGradient(adapters.parameters).map { "gradient of \($0)" } ?? "the loss (gradients finite)")
        } else {
            text += "; rerun with --debug to find the layer"
        }
        let checkpoints = Checkpoints.complete(in: Checkpoints.checkpointsDirectory(run: outDirectory))
        text += checkpoints.last.map { "; last good checkpoint: \($0.url.path) (skipped steps never change the weights)" } ?? "; no checkpoint was written yet"
        return .invalidInput(text + "; try a lower --lr or check the data")
    }
}
