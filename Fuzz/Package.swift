// swift-tools-version:6.0
// libFuzzer harnesses for Tinh's readers of untrusted files. A separate package so a normal
// `swift build` of Tinh never sees them; build and run them with `launch/fuzz TARGET SECONDS`,
// which passes --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address and its own --scratch-path.
import PackageDescription
import Foundation

// A path dependency's identity is its directory's name (the checkout's, e.g. "main").
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let targets = ["gguf", "safetensors", "tokenizer", "jsonl", "checkpoint-state", "adapter-config"]

let package = Package(
    name: "TinhFuzz",
    dependencies: [.package(path: root.path)],
    targets: targets.map { name in
        .executableTarget(
            name: "fuzz-\(name)",
            dependencies: [.product(name: "Tinh", package: root.lastPathComponent)],
            // libFuzzer supplies main(); the harness only defines LLVMFuzzerTestOneInput.
            swiftSettings: [.unsafeFlags(["-parse-as-library"])])
    },
    swiftLanguageModes: [.v5]
)
