import Testing
@testable import Tinh

@Test func tensorStartsZeroed() {
    let t = Tensor(shape: [3, 4])
    #expect(t.count == 12 && t.array.allSatisfy { $0 == 0 })
}
