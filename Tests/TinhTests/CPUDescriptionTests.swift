import Testing
@testable import Tinh

/// The ISA level and extensions read from /proc/cpuinfo flags of the CPUs this project has run on.
struct CPUDescriptionTests {
    static let zen3 = "fpu vme sse sse2 ssse3 fma cx16 sse4_1 sse4_2 popcnt xsave avx f16c lahf_lm abm movbe bmi1 avx2 bmi2"
    static let zen4 = zen3 + " avx512f avx512dq avx512cd avx512bw avx512vl avx512_bf16 avx512_vnni"
    static let sapphireRapids = zen4 + " amx_bf16 amx_tile amx_int8 avx_vnni avx512_fp16"

    func describe(_ flags: String, model: String = "Test CPU") -> CPUDescription {
        CPUDescription.describe(cpuinfo: "processor\t: 0\nmodel name\t: \(model)\nflags\t\t: \(flags)\n\nprocessor\t: 1\nmodel name\t: other\n")
    }

    #if arch(x86_64)
    @Test func levelsFollowTheFlags() {
        #expect(describe("sse sse2").level == "x86-64")
        #expect(describe("cx16 lahf_lm popcnt sse4_1 sse4_2 ssse3").level == "x86-64-v2")
        #expect(describe(Self.zen3).level == "x86-64-v3")
        #expect(describe(Self.zen4).level == "x86-64-v4")
        #expect(!describe(Self.zen3).extensions.contains("avx512_bf16"))
        #expect(describe(Self.zen4).extensions.contains("avx512_bf16"))
        #expect(describe(Self.sapphireRapids).extensions.contains("amx_bf16"))
        #expect(describe(Self.zen3, model: "AMD EPYC 7B13").model == "AMD EPYC 7B13", "the first processor's name")
        let zen4 = CPUDescription.describe(cpuinfo: "processor\t: 0\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC\nflags\t\t: \(Self.zen4)\n")
        #expect(zen4.model == "AMD EPYC (family 25, model 17)")
    }
    #endif

    @Test func thisMachineIsDescribed() {
        let cpu = CPUDescription.current()
        #expect(!cpu.model.isEmpty)
        #expect(cpu.f32GEMMs.first == "openblas")
        #expect(cpu.bf16GEMM == BF16GEMM.isSupported)
        print("CPU: \(cpu.summary)")
    }
}
