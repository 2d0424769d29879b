/// IEEE half and bfloat16 to Float32, from raw bit patterns (files store them as u16).

@inline(__always)
func floatFromHalfBits(_ h: UInt16) -> Float {
    #if arch(x86_64) || arch(arm64)
    // Float16 is a native type here; with F16C (x86-64-v3) this is one instruction.
    return Float(Float16(bitPattern: h))
    #else
    return floatFromHalfBitsPortable(h)
    #endif
}

/// Bit-level conversion, kept for platforms without Float16 and as a test oracle.
func floatFromHalfBitsPortable(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exp = UInt32(h >> 10) & 0x1F
    let mant = UInt32(h) & 0x3FF
    if exp == 0x1F {  // inf / nan
        return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13))
    }
    if exp == 0 {  // zero / subnormal: mant * 2^-24
        let v = Float(mant) * Float(bitPattern: 0x3380_0000)
        return sign != 0 ? -v : v
    }
    return Float(bitPattern: sign | ((exp + 112) << 23) | (mant << 13))
}

@inline(__always)
func floatFromBFloat16Bits(_ b: UInt16) -> Float {
    Float(bitPattern: UInt32(b) << 16)
}
