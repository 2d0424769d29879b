import ArgumentParser
import Foundation
import Tinh

@main
struct TinhCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tinh",
        abstract: "Parameter-efficient fine-tuning of language models on CPUs, data-parallel over MPI.",
        discussion: """
            Run a command under mpirun (or launch/run -n N) and each process becomes one rank of the job.

            Quick start:
              tinh fetch smollm2
              tinh data demo --out data
              tinh data check data/train.jsonl --valid data/valid.jsonl --model smollm2
              tinh train --model smollm2 --data data/train.jsonl \\
                --valid data/valid.jsonl --out runs/mine --steps 60 --eval-every 20
              tinh plot runs/mine

            Shell completion: tinh --generate-completion-script bash > /etc/bash_completion.d/tinh (or zsh, fish).
            """,
        subcommands: [DoctorCommand.self, FetchCommand.self, InspectCommand.self, LogitsCommand.self, GenerateCommand.self, AdaptersCommand.self,
                      EvalCommand.self, TrainCommand.self, CompareMethodsCommand.self, ExportCommand.self, MergeCommand.self, DataCommand.self, MemoryCommand.self,
                      SweepCommand.self, PlotCommand.self, BenchCommand.self, ScaleModelCommand.self, GEMMBenchCommand.self, AttentionBenchCommand.self,
                      InjectAbortCommand.self])

    static func main() {
        _ = RunEnvironment.requestedGEMM  // a bad TINH_F32_GEMM or TINH_HEAD_CHUNK_ROWS fails before any work
        _ = RunEnvironment.headChunkRows
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard arguments.first == "train" else { return main(arguments) }
        TrainArguments.expandAndRun(Array(arguments.dropFirst()))
    }
}
