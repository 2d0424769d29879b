/// `--method qlora` (Dettmers et al., 2023): LoRA on a base whose projections are held in 4-bit
/// NF4 (`BasePrecision.nf4`), dequantized per layer as they are used. The adapter and its export
/// are LoRA's (the export also records which base it was trained on, `BaseQuantizationRecord`).
public final class QLoRAMethod: LoRAMethod {
    override public class var id: MethodID { .qlora }
    override public class var help: String { "LoRA on an nf4 base" }
    override public class var defaultBasePrecision: BasePrecision { .nf4 }
    override public class var peftTypes: [String] { [] }
    /// No PiSSA: its residual would be an f32 copy of each adapted weight, which the nf4 base is there to avoid.
    override public class var optionsType: any MethodOptions.Type { NoMethodOptions.self }
    override public class var comparisonVariants: [String: (TrainConfig) -> TrainConfig] { [:] }

    override public class func validate(_ config: AdapterConfig) throws {
        guard config.resolvedBasePrecision == .nf4 else {
            throw TinhError.invalidInput("--method qlora is LoRA on an nf4 base; for a \(config.resolvedBasePrecision) base use --method lora --base-precision \(config.resolvedBasePrecision)")
        }
    }
}
