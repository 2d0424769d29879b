@testable import Tinh

/// Shortcuts the method tests share.
extension AdapterSet {
    /// AdaLoRA's budget (nil for other methods).
    var adaLoRABudget: AdaLoRABudget? { (method as? AdaLoRAMethod)?.budget }
    /// The fingerprint ranks compare of the method's checkpoint state.
    var extraStateFingerprint: String { StateFingerprint.of(extraState()) }
}
