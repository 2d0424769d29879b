// swift-tools-version:6.0
import PackageDescription
import Foundation

// CPU code generation. A plain `swift build -c release` emits SSE2-only x86-64 code, which makes
// SIMD FMAs into libm calls. Choose with TINH_ARCH at build time (use a separate --scratch-path per choice):
//   portable (default): x86-64-v3 (AVX2 + FMA, any x86-64 CPU since ~2015); arm64 baseline (NEON)
//   native:             everything this CPU has (e.g. AVX-512); the binary may not run elsewhere
//   generic:            the compiler's default baseline, for very old x86-64 CPUs
let arch = ProcessInfo.processInfo.environment["TINH_ARCH"] ?? "portable"
var cpuFlags: [String] = []
#if arch(x86_64)
switch arch {
case "native": cpuFlags = ["-Xcc", "-march=native", "-target-cpu", "native"]
case "generic": cpuFlags = []
default: cpuFlags = ["-Xcc", "-march=x86-64-v3"]
}
#elseif arch(arm64)
if arch == "native" { cpuFlags = ["-Xcc", "-mcpu=native", "-target-cpu", "native"] }
#endif

// oneDNN (Debian: libdnnl-dev) gives the bf16 GEMMs of `--base-precision bf16`. Without it the
// CBF16 shim still builds and reports bf16 as unavailable at run time.
let oneDNNHeaders = ["/usr/include/dnnl.h", "/usr/include/oneapi/dnnl/dnnl.h", "/usr/local/include/dnnl.h",
                     "/opt/homebrew/include/dnnl.h"]
let hasOneDNN = oneDNNHeaders.contains { FileManager.default.fileExists(atPath: $0) }

let package = Package(
    name: "Tinh",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "Tinh", targets: ["Tinh"]),
        .executable(name: "tinh", targets: ["tinh"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // pkg-config "ompi-c" supplies MPI's include path and -lmpi to the C shim only.
        .systemLibrary(name: "COpenMPI", path: "Sources/COpenMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        // The only code that includes <mpi.h>. Plain C types in, MPI error codes out.
        .target(name: "CMPI", dependencies: ["COpenMPI"], path: "CMPI"),
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        // The only code that includes dnnl.h: cached bf16, int8 and f32 matmul primitives, f32↔bf16
        // conversion and the int8 base's quantize/dequantize passes (-O2 in debug builds too: hot loops).
        // oneDNN threads with OpenMP (libgomp), whose thread count the shim sets.
        // The define and the link flags come from the same check, so a manifest evaluated before
        // libdnnl-dev was installed (SwiftPM caches it) builds without oneDNN instead of failing to link.
        .target(name: "CBF16", path: "Sources/CBF16",
                cSettings: (hasOneDNN ? [.define("TINH_HAS_ONEDNN")] : []) + [.unsafeFlags(["-O2"])],
                linkerSettings: hasOneDNN ? [.linkedLibrary("dnnl"), .linkedLibrary("gomp")] : []),
        // A register-resident FMA loop per vector width (each compiled for its own ISA): the peak behind MFU.
        .target(name: "CFMAPeak", path: "Sources/CFMAPeak", cSettings: [.unsafeFlags(["-O2"])]),
        // Fused flash attention forward and backward, one body compiled per vector width and
        // picked at run time (-O2 in debug builds too: the tests run it at model sizes).
        .target(name: "CFlash", path: "Sources/CFlash", exclude: ["flash_impl.h"], cSettings: [.unsafeFlags(["-O2"])]),
        .target(
            name: "Tinh",
            dependencies: ["CMPI", "CBLAS", "CBF16", "CFMAPeak", "CFlash", .product(name: "Yams", package: "Yams")],
            swiftSettings: [.unsafeFlags(cpuFlags)]),
        // What is not training: sweeps, method comparisons, benchmarks, scaling models, doctor.
        .target(name: "TinhTools", dependencies: ["Tinh"], swiftSettings: [.unsafeFlags(cpuFlags)]),
        .executableTarget(
            name: "tinh",
            dependencies: ["Tinh", "TinhTools", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: [.unsafeFlags(cpuFlags)]),
        // Fixtures/ holds reference figures (JSON) and the scripts that make them; the tests read them
        // from the source tree, so they are not bundle resources.
        .testTarget(name: "TinhTests", dependencies: ["Tinh", "TinhTools", "tinh"], exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v5]
)
