import Foundation
import Testing
@testable import Tinh

/// The registry and the methods' options: every ID names its own type, configs saved by earlier
/// versions (every option at the top level, whatever the method) still decode, and the method
/// flags are checked in one place.
@Suite struct MethodRegistryTests {
    @Test func everyIDNamesItsOwnType() {
        for id in MethodID.allCases { #expect(id.type.id == id, "\(id.name)") }
        // One reader per PEFT type.
        let claimed = MethodID.allCases.flatMap { $0.type.peftTypes }
        #expect(Set(claimed).count == claimed.count && Set(claimed) == ["LORA", "VERA", "ADALORA"])
    }

    /// The JSON of an adapter config as the version before typed options wrote it: Delta-LoRA's and
    /// LoRA-FA's fields were written for every method.
    static func oldJSON(_ method: String, extra: String = "") -> String {
        #"{"method":"\#(method)","rank":4,"alpha":8,"rsLoRA":false,"targets":["q","v"],"seed":3,"#
            + #""loraFAProjection":false,"deltaLambda":2,"deltaStart":500\#(extra)}"#
    }

    @Test func configsOfEarlierVersionsDecodeToTheirOptions() throws {
        func decode(_ text: String) throws -> AdapterConfig { try JSONDecoder().decode(AdapterConfig.self, from: Data(text.utf8)) }
        #expect(try decode(Self.oldJSON("lora")).options(LoRAOptions.self) == LoRAOptions())
        #expect(try decode(Self.oldJSON("lora", extra: #","initialization":"pissa""#)).options(LoRAOptions.self).pissa)
        #expect(try decode(Self.oldJSON("delta-lora")).options is DeltaLoRAOptions)
        let delta = try decode(Self.oldJSON("delta-lora").replacingOccurrences(of: #""deltaStart":500"#, with: #""deltaStart":7"#))
        #expect(delta.options(DeltaLoRAOptions.self) == DeltaLoRAOptions(lambda: 2, start: 7))
        let fa = try decode(Self.oldJSON("lora-fa").replacingOccurrences(of: #""loraFAProjection":false"#, with: #""loraFAProjection":true"#))
        #expect(fa.options(LoRAFAOptions.self).projection)
        let vera = try decode(Self.oldJSON("vera", extra: #","veraSeed":5,"veraDInit":0.25"#))
        #expect(vera.options(VeRAOptions.self) == VeRAOptions(projectionSeed: 5, initialD: 0.25))
        let ada = try decode(Self.oldJSON("adalora", extra: #","adaLoRA":{"targetR":3,"tinit":1,"tfinal":2,"deltaT":1,"beta1":0.85,"beta2":0.85,"orthRegWeight":0.5,"totalStep":10}"#))
        #expect(ada.options(AdaLoRAOptions.self).settings == AdaLoRASettings(targetR: 3, tinit: 1, tfinal: 2, totalStep: 10))
        // Each decodes to what it encodes back to.
        for config in [delta, fa, vera, ada] {
            #expect(try decode(String(decoding: JSONEncoder().encode(config), as: UTF8.self)) == config)
        }
    }

    @Test func aMethodThisBuildDoesNotKnowIsAClearError() {
        #expect(throws: TinhError.unsupported("method 'ia3' (saved by another version of Tinh); this one knows \(MethodID.allCases.map(\.name).joined(separator: ", "))")) {
            try JSONDecoder().decode(AdapterConfig.self, from: Data(Self.oldJSON("ia3").utf8))
        }
    }

    @Test func methodFlagsAreCheckedAgainstTheMethod() throws {
        let flags = try MethodFlagValues.parse(["--vera-seed", "3", "--vera-d-init=0.5"])
        #expect(flags.values == ["vera-seed": "3", "vera-d-init": "0.5"])
        let config = try AdapterConfig.fromFlags(method: .vera, rank: 16, alpha: 1, rsLoRA: false, targets: ["q"], layers: nil, seed: 0,
                                                 basePrecision: nil, flags: flags, steps: 5)
        #expect(config.options(VeRAOptions.self) == VeRAOptions(projectionSeed: 3, initialD: 0.5))
        #expect(throws: TinhError.invalidInput("--vera-d-init applies to --method vera only (this run uses lora)")) { try flags.check(for: .lora) }
        #expect(throws: TinhError.invalidInput("Unknown option '--vera-sed'")) { try MethodFlagValues.parse(["--vera-sed", "3"]) }
        #expect(throws: TinhError.invalidInput("--delta-start x: expected an integer")) {
            try DeltaLoRAOptions(flags: MethodFlagValues.parse(["--delta-start", "x"]), rank: 8, steps: 1)
        }
        #expect(throws: TinhError.self) { try MethodFlagValues.parse(["--lora-fa-projection=yes"]) }
        // AdaLoRA's rank is init_r; the schedule spans the run's steps.
        let ada = try AdapterConfig.fromFlags(method: .adalora, rank: nil, alpha: 1, rsLoRA: false, targets: ["q"], layers: nil, seed: 0,
                                              basePrecision: nil, flags: MethodFlagValues.parse(["--init-r", "6"]), steps: 9)
        #expect(ada.rank == 6 && ada.options(AdaLoRAOptions.self).settings.totalStep == 9 && ada.options(AdaLoRAOptions.self).settings.targetR == 4)
        #expect(throws: TinhError.self) {
            try AdapterConfig.fromFlags(method: .adalora, rank: 8, alpha: 1, rsLoRA: false, targets: ["q"], layers: nil, seed: 0,
                                        basePrecision: nil, flags: MethodFlagValues.parse(["--init-r", "6"]), steps: 9)
        }
    }

    /// Options of another method are refused, not silently ignored.
    @Test func anotherMethodsOptionsAreRefused() throws {
        let model = try TinyLlama.model()
        #expect(throws: TinhError.self) { try AdapterSet(model: model, config: AdapterConfig(method: .lora, options: DeltaLoRAOptions(lambda: 3))) }
        #expect(throws: TinhError.self) { try AdapterSet(model: model, config: AdapterConfig(method: .full, layers: [0])) }
    }
}
