@testable import Tinh

extension Linear {
    /// The Float32 tensor of a Linear whose W is stored as f32 (tests on f32 models only).
    var f32Weight: Tensor { (weight as! F32Weight).tensor }
}
