import Foundation

/// What this CPU can run, as the kernels care about it: its model name, the x86-64 psABI level
/// (v2/v3/v4) or the arm64 features, the extensions some kernels need (AVX512-BF16, AMX,
/// VNNI), and which GEMM libraries this build can use here. `tinh doctor` and CI print it so a
/// test run or a figure always says which machine it came from.
public struct CPUDescription: Codable, Sendable, Equatable {
    public var model: String
    public var architecture: String
    /// "x86-64-v4", "x86-64-v3", "x86-64-v2", "x86-64" or, on arm64, "arm64".
    public var level: String
    /// The extensions of interest that the CPU has, e.g. ["avx512_bf16", "amx_bf16"].
    public var extensions: [String]
    /// The frozen f32 GEMM libraries this build can run (`FrozenGEMM.usable`).
    public var f32GEMMs: [String]
    /// Whether bf16 GEMMs run here (oneDNN with AVX512-BF16 or AMX), and oneDNN's ISA.
    public var bf16GEMM: Bool
    public var oneDNNISA: String
    /// The OpenBLAS kernel family chosen at run time (e.g. "Haswell", "SkylakeX", "Cooperlake").
    public var openBLASKernel: String

    /// This machine (Linux: /proc/cpuinfo; elsewhere what the compiler knows).
    public static func current() -> CPUDescription {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        return describe(cpuinfo: info)
    }

    /// The description from /proc/cpuinfo's text (the first processor's fields).
    public static func describe(cpuinfo: String) -> CPUDescription {
        var fields: [String: String] = [:]
        for line in cpuinfo.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.trimmingCharacters(in: .whitespaces).isEmpty, !fields.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            if fields[key] == nil { fields[key] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces) }
        }
        #if arch(x86_64)
        let architecture = "x86_64"
        let flags = Set((fields["flags"] ?? "").split(separator: " ").map(String.init))
        let level = x86Level(flags)
        let interesting = ["avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8", "avx512_fp16"]
        #else
        let architecture = "arm64"
        let flags = Set((fields["Features"] ?? "").split(separator: " ").map(String.init))
        let level = "arm64"
        let interesting = ["asimd", "asimddp", "sve", "sve2", "bf16", "i8mm", "sme"]
        #endif
        // Virtual machines often report a bare "AMD EPYC": family and model tell Zen 3 (25, 1) from Zen 4 (25, 17).
        var model = fields["model name"] ?? fields["Model"] ?? fields["CPU part"].map { "CPU part \($0)" } ?? "unknown"
        if let family = fields["cpu family"], let number = fields["model"] { model += " (family \(family), model \(number))" }
        return CPUDescription(model: model, architecture: architecture, level: level,
                              extensions: interesting.filter(flags.contains),
                              f32GEMMs: FrozenGEMM.usable.map(\.rawValue), bf16GEMM: BF16GEMM.isSupported,
                              oneDNNISA: BF16GEMM.isCompiled ? BF16GEMM.isa : "none (not in this build)",
                              openBLASKernel: BLAS.coreName)
    }

    /// The x86-64 psABI microarchitecture level the flags reach.
    static func x86Level(_ flags: Set<String>) -> String {
        let v2 = ["cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"]
        let v3 = ["avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"]
        let v4 = ["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"]
        guard v2.allSatisfy(flags.contains) else { return "x86-64" }
        guard v3.allSatisfy(flags.contains) else { return "x86-64-v2" }
        guard v4.allSatisfy(flags.contains) else { return "x86-64-v3" }
        return "x86-64-v4"
    }

    /// One line for logs: "AMD EPYC (x86-64-v4; avx512_bf16 …) · f32 GEMMs openblas, onednn · bf16 GEMM yes (avx512_core_bf16)".
    public var summary: String {
        let ext = extensions.isEmpty ? "" : "; " + extensions.joined(separator: " ")
        return "\(model) (\(level)\(ext)) · OpenBLAS kernel \(openBLASKernel) · f32 GEMMs: \(f32GEMMs.joined(separator: ", "))"
            + " · bf16 GEMM: \(bf16GEMM ? "yes" : "no") (oneDNN ISA \(oneDNNISA))"
    }
}
