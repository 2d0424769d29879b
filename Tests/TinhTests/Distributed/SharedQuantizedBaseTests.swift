import Foundation
import Testing
@testable import Tinh

/// One base per node in every precision: the cached file holds each frozen weight's storage byte
/// for byte, and a model mapped from it computes what a private load computes.
@Suite(.serialized) struct SharedQuantizedBaseTests {
    /// tiny:3 (hidden 64, intermediate 128: whole nf4 and Q8_0 blocks) as a Hugging Face directory.
    static let tinyDirectory: String = {
        let loaded = try! ModelSource.load("tiny:3")
        let adapters = try! AdapterSet(model: loaded.model, config: AdapterConfig(method: .lora, rank: 2, targets: ["q"]))
        let dir = tempDir().appendingPathComponent("tiny3-hf", isDirectory: true)
        try! Merge.write(model: loaded.model, adapters: adapters, to: dir.appendingPathComponent("model.safetensors").path)
        return dir.path
    }()

    static let tokens: [Int32] = [1, 5, 9, 3, 7, 2, 8, 4]

    /// The model of `source` with its base privately decoded, and mapped from a fresh cache.
    func models(_ source: SharedBaseCache.Source, _ precision: BasePrecision, cache: URL)
        throws -> (privately: DecoderModel, mapped: DecoderModel, file: String) {
        let (config, weights, frozen) = try SharedBaseCache.decode(source, precision: precision)
        let privately = try DecoderModel(config: config, weights: weights, frozen: frozen)
        let (mappedWeights, mappedFrozen, path) = try SharedBaseCache.load(source, precision: precision, cache: cache)
        let mapped = try DecoderModel(config: config, weights: mappedWeights, frozen: mappedFrozen)
        return (privately, mapped, path)
    }

    func expectSameStorage(_ a: DecoderModel, _ b: DecoderModel) {
        #expect(a.linears.count == b.linears.count)
        for (x, y) in zip(a.linears, b.linears) {
            #expect(type(of: x.weight) == type(of: y.weight) && x.weight.formatName == y.weight.formatName, "\(x.name)")
            #expect(x.weight.storageBytes == y.weight.storageBytes, "\(x.name)")
            let same = x.weight.withFloats { p in y.weight.withFloats { q in (0..<x.weight.count).allSatisfy { p[$0].bitPattern == q[$0].bitPattern } } }
            #expect(same, "\(x.name): the mapped weight holds other values")
        }
    }

    @Test(arguments: [BasePrecision.nf4, .q8, .q4, .int8])
    func mappedQuantizedBaseComputesExactlyWhatAPrivateOneDoes(precision: BasePrecision) throws {
        let (privately, mapped, path) = try models(.huggingFace(directory: Self.tinyDirectory), precision, cache: tempDir())
        expectSameStorage(privately, mapped)
        // The weights are mapped, not copied: a weight read from the file keeps its storage inside the mapping.
        let file = try SafeTensorsFile(path: path)
        let name = "model.layers.1.mlp.down_proj.weight"
        let read = try #require(try FrozenWeightCodec.weight(name, in: file))
        for entry in try FrozenWeightCodec.entries(read, name: name).entries {
            #expect(file.file.range(of: try #require(entry.bytes.baseAddress), bytes: entry.bytes.count) != nil, "\(entry.name) is a copy")
        }
        if precision == .int8 { #expect(mapped.lmHead.weight is Int8Weight, "the int8 head comes from the file too") }
        // By construction: the same codes decode into the same f32 scratch (nf4, q8, q4), or give
        // exact int32 sums and the same f32 epilogue (int8); only the addresses differ.
        let a = try privately.logits(tokens: Self.tokens).array, b = try mapped.logits(tokens: Self.tokens).array
        #expect(a == b, "\(precision): mapped logits differ from the private load's")
    }

    /// bf16 on the Llama fixture's GGUF (q/k rows un-permuted into the file) and its HF directory.
    @Test func mappedBF16BaseHoldsTheSameValuesAndLogitsWithinSummationOrder() throws {
        let dir = try FamilyFixture.directory("llama")
        for source in [SharedBaseCache.Source.gguf(try GGUFFile(path: dir.appendingPathComponent("model.gguf").path)),
                       .huggingFace(directory: dir.path)] {
            let (privately, mapped, _) = try models(source, .bf16, cache: tempDir())
            expectSameStorage(privately, mapped)
            let a = try privately.logits(tokens: Self.tokens).array, b = try mapped.logits(tokens: Self.tokens).array
            // Same bf16 inputs, f32 accumulation: only the order of the f32 sums may differ (oneDNN
            // may block a borrowed operand differently).
            let scale = Double(a.map(abs).max() ?? 1)
            let bound = 2 * RoundingBound.forwardEstimate(privately.config) * scale
            let worst = zip(a, b).map { Double(abs($0 - $1)) }.max() ?? 0
            #expect(worst <= bound, "\(source.path): \(worst) > \(bound)")
        }
    }

    @Test func theFileIsWrittenOnceAndAnotherPrecisionGetsItsOwn() throws {
        let cache = tempDir()
        let source = SharedBaseCache.Source.huggingFace(directory: Self.tinyDirectory)
        let nf4 = try SharedBaseCache.prepare(source, precision: .nf4, cache: cache)
        let written = try FileManager.default.attributesOfItem(atPath: nf4)[.modificationDate] as? Date
        _ = try SharedBaseCache.load(source, precision: .nf4, cache: cache)
        #expect(try FileManager.default.attributesOfItem(atPath: nf4)[.modificationDate] as? Date == written, "reused, not rewritten")
        let q8 = try SharedBaseCache.prepare(source, precision: .q8, cache: cache)
        #expect(q8 != nf4 && q8.contains("base-q8") && nf4.contains("base-nf4"))
        // The nf4 file is smaller than the f32 source it was made from.
        let f32Bytes = try SafeTensorsFile(path: Self.tinyDirectory + "/model.safetensors").file.count
        #expect(try SafeTensorsFile(path: nf4).file.count < f32Bytes)
    }

    @Test func aDamagedOrForeignFileIsAClearError() throws {
        let cache = tempDir()
        let source = SharedBaseCache.Source.huggingFace(directory: Self.tinyDirectory)
        let path = try SharedBaseCache.prepare(source, precision: .int8, cache: cache)
        // Truncated (by something else than Tinh, which writes atomically): the reader says so.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
        #expect(throws: TinhError.self) { try SharedBaseCache.load(source, precision: .int8, cache: cache) }
        // Another file under this name: refused, with what to do.
        try SafeTensorsWriter.write(["x": Tensor(shape: [1])], metadata: ["format": "tinh-base-int8-v1"], to: path)
        do {
            _ = try SharedBaseCache.load(source, precision: .int8, cache: cache)
            Issue.record("a foreign file was loaded")
        } catch let error as TinhError {
            #expect("\(error)".contains("delete it"), "\(error)")
        }
    }

    /// A directory of F32 tensors with an f32 base is shared as it is; anything else needs the cache.
    @Test func onlyConvertedOrQuantizedBasesNeedTheCache() throws {
        let source = SharedBaseCache.Source.huggingFace(directory: Self.tinyDirectory)
        #expect(try !SharedBaseCache.isNeeded(source, precision: .f32))
        #expect(try SharedBaseCache.isNeeded(source, precision: .nf4))
        #expect(try SharedBaseCache.isNeeded(.gguf(GGUFFile(path: FamilyFixture.directory("llama").appendingPathComponent("model.gguf").path)), precision: .f32))
    }

    /// Two ranks with an nf4 base: each carries half of the mapped file's resident pages.
    @Test(.enabled(if: ModelCache.isSmolLM2Cached, "SmolLM2 is not cached (tinh fetch smollm2)"))
    func twoRanksShareAQuantizedBase() throws {
        let cache = tempDir().path
        let result = try TestProcess.launch(ranks: 2, ["memory", "--model", ModelCache.smolLM2Path(in: ModelCache.directory), "--shared-base", "on",
                                                       "--base-precision", "nf4", "--json"],
                                            environment: ["TINH_CACHE": cache], timeout: 300)
        #expect(result.status == 0, "\(result.output)")
        let two = try JSONDecoder().decode(BaseMemoryReport.self, from: try #require(TestProcess.jsonObject(in: result.output)))
        #expect(two.sharedBase)
        for r in 0..<2 {
            #expect(two.baseRssMegabytes[r] > 0.1 * two.baseMegabytes, "rank \(r) maps and reads the base: \(two)")
            #expect(abs(two.basePssMegabytes[r] / two.baseRssMegabytes[r] - 0.5) < 0.05, "rank \(r) shares its base pages: \(two)")
        }
        try? FileManager.default.removeItem(atPath: cache)
    }
}
