/// The JSON header of a safetensors file, decoded strictly: integers must be integers, the
/// metadata map must hold only strings. Semantic checks live in `SafeTensorsFile`.
struct SafeTensorsHeader: Decodable {
    struct Entry: Decodable {
        var name = ""
        let dtype: String
        let shape: [Int]
        let dataOffsets: [Int]

        enum CodingKeys: String, CodingKey {
            case dtype, shape
            case dataOffsets = "data_offsets"
        }
    }

    struct Key: CodingKey {
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    var metadata: [String: String] = [:]
    var entries: [Entry] = []

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        for key in c.allKeys {
            if key.stringValue == "__metadata__" {
                metadata = try c.decode([String: String].self, forKey: key)
            } else {
                var e = try c.decode(Entry.self, forKey: key)
                e.name = key.stringValue
                entries.append(e)
            }
        }
    }
}
