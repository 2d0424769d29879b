import Foundation

/// What a finished run leaves in OUT besides checkpoints and logs: the PEFT adapter, and the
/// model itself when the method changed base weights.
extension Trainer {
    /// Rank 0 exports the result; every rank learns whether it worked. Returns the line about
    /// OUT/merged or OUT/model, when one was written.
    func exportResult() throws -> String? {
        var mergedNote: String?
        try comm.together("exporting the adapter") {
            guard comm.isRoot else { return }
            if adapters.isFullFineTuning {
                mergedNote = try exportFullModel()
                return
            }
            try PEFTExport.write(adapters: adapters, baseModelName: PEFTExport.baseModelName(forSpec: loaded.spec),
                                 to: outDirectory.appendingPathComponent("adapter"), budget: files.budget)
            if config.adapter.method.type.movesBaseWeights { mergedNote = try exportMerged() }
        }
        return mergedNote
    }

    /// Delta-LoRA moved the base weights, which the PEFT adapter does not carry: writes the
    /// fine-tuned model itself to OUT/merged/ (moved W + s·B·A). Returns a line saying so.
    func exportMerged() throws -> String {
        let directory = outDirectory.appendingPathComponent("merged", isDirectory: true)
        let (_, note) = try Merge.write(loaded: loaded, adapters: adapters, to: directory.appendingPathComponent("model.safetensors").path,
                                        budget: files.budget)
        return "merged model: \(directory.path) (\(config.adapter.method.name) moved the base weights, so OUT/adapter alone does not reproduce the fine-tuned model)"
            + (note.map { "; " + $0 } ?? "")
    }

    /// Full fine-tuning: the trained model, every weight under its Hugging Face name, to OUT/model/.
    func exportFullModel() throws -> String {
        let directory = outDirectory.appendingPathComponent("model", isDirectory: true)
        let (_, note) = try Merge.write(loaded: loaded, adapters: adapters, to: directory.appendingPathComponent("model.safetensors").path,
                                        budget: files.budget)
        return "fine-tuned model (every weight, safetensors): \(directory.path)" + (note.map { "; " + $0 } ?? "")
    }
}
