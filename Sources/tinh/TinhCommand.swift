import ArgumentParser
import Tinh

@main
struct TinhCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tinh",
        abstract: "Parameter-efficient fine-tuning of language models on CPUs, data-parallel over MPI.",
        discussion: "Run a command under mpirun (or launch/run -n N) and each process becomes one rank of the job.",
        subcommands: [DoctorCommand.self, FetchCommand.self, InspectCommand.self, LogitsCommand.self, GenerateCommand.self,
                      EvalCommand.self, TrainCommand.self, CompareMethodsCommand.self, ExportCommand.self, MergeCommand.self, DataCommand.self,
                      GEMMBenchCommand.self, InjectAbortCommand.self])
}
