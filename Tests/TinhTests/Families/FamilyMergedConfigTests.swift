import Foundation
import Testing
@testable import Tinh

/// A merged export of any family describes the same model: its config.json reads back to the same
/// config and spec, and it holds every tensor the family needs under its Hugging Face name.
@Suite struct FamilyMergedConfigTests {
    @Test(arguments: FamilyFixture.families)
    func mergedConfigReadsBackToTheSameModel(family: String) throws {
        let c = try FamilyGradientTests.config(family)
        let json = try Merge.configJSON(c)
        let back = try JSONDecoder().decode(HFConfig.self, from: json).decoderConfig(source: "merged \(family)")
        #expect(back == c, "\(family): \(String(decoding: json, as: UTF8.self))")
    }

    @Test(arguments: FamilyFixture.families)
    func mergedWeightsAreTheFamilysTensors(family: String) throws {
        let (config, weights) = try ModelFileLoader.load(path: FamilyFixture.directory(family).path)
        let model = try DecoderModel(config: config, weights: weights)
        let set = try AdapterSet(model: model, config: AdapterConfig(rank: 2, targets: AdapterConfig.targets(for: config.spec.projections)))
        let merged = try Merge.mergedWeights(model: model, adapters: set)
        #expect(Dictionary(uniqueKeysWithValues: merged.map { ($0.key, $0.value.shape) }) == DecoderWeightNames.expectedShapes(config))
    }
}
