/// `--method lora-plus` (Hayou, Ghosh & Yu, 2024): LoRA whose B learns at `--loraplus-ratio` × A's
/// rate, 16 by default (the paper's recommendation). The adapter, its init and its export are
/// LoRA's; only the optimizer groups differ (`LoRAPlus.groups`).
public final class LoRAPlusMethod: LoRAMethod {
    override public class var id: MethodID { .loraPlus }
    override public class var help: String { "LoRA with B's learning rate --loraplus-ratio × A's, default 16" }
    override public class var defaultLoRAPlusRatio: Float { LoRAPlus.recommendedRatio }
    override public class var peftTypes: [String] { [] }
    override public class var comparisonVariants: [String: (TrainConfig) -> TrainConfig] { [:] }

    /// The paper's ratio, whatever the base run's.
    override public class func comparisonConfig(base: TrainConfig) -> TrainConfig {
        var c = base
        c.loraPlusRatio = LoRAPlus.recommendedRatio
        return c
    }
}
