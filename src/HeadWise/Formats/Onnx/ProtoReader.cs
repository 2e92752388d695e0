namespace HeadWise.Formats.Onnx;

/// <summary>
/// A minimal protobuf wire-format reader over a byte array: enough to walk ONNX messages without a protobuf
/// dependency. Length-delimited fields come back as (offset, length) into the same array, so no bytes are copied.
/// </summary>
internal struct ProtoReader(byte[] data, int start, int end, string path)
{
    private int _pos = start;
    public readonly byte[] Data = data;

    public int Field { get; private set; }
    public int Wire { get; private set; }

    public bool Next()
    {
        if (_pos >= end) return false;
        var key = Varint();
        Field = (int)(key >> 3);
        Wire = (int)(key & 7);
        if (Field == 0) throw Bad("field number 0");
        return true;
    }

    public ulong Varint()
    {
        ulong result = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (_pos >= end) throw Bad("truncated varint");
            var b = Data[_pos++];
            result |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80) return result;
        }
        throw Bad("varint longer than 10 bytes");
    }

    /// <summary>A length-delimited field's payload as (offset, length).</summary>
    public (int Offset, int Length) Bytes()
    {
        var len = Varint();
        if (len > (ulong)(end - _pos)) throw Bad($"field {Field} length {len} runs past its message");
        var at = _pos;
        _pos += (int)len;
        return (at, (int)len);
    }

    public ProtoReader Message()
    {
        var (o, l) = Bytes();
        return new ProtoReader(Data, o, o + l, path);
    }

    public string String(int maxBytes = int.MaxValue)
    {
        var (o, l) = Bytes();
        if (l > maxBytes) throw Bad($"string field {Field} is {l} bytes, more than the {maxBytes} allowed");
        return System.Text.Encoding.UTF8.GetString(Data, o, l);
    }

    public uint Fixed32()
    {
        if (end - _pos < 4) throw Bad("truncated fixed32");
        var v = BitConverter.ToUInt32(Data, _pos);
        _pos += 4;
        return v;
    }

    public void Skip()
    {
        switch (Wire)
        {
            case 0: Varint(); break;
            case 1: if (end - _pos < 8) throw Bad("truncated fixed64"); _pos += 8; break;
            case 2: Bytes(); break;
            case 5: Fixed32(); break;
            default: throw Bad($"unsupported wire type {Wire} for field {Field}");
        }
    }

    /// <summary>A repeated varint field, packed (wire 2) or not (wire 0): appends to <paramref name="into"/>, which may
    /// hold at most <paramref name="max"/> values (so a field's claimed size never sizes an allocation). False, with
    /// the field partly read, when the values would pass <paramref name="max"/>.</summary>
    public bool Varints(List<long> into, int max)
    {
        if (Wire == 0) return Add(into, (long)Varint(), max);
        var (o, l) = Bytes();
        var inner = new ProtoReader(Data, o, o + l, path);
        while (inner._pos < o + l)
            if (!Add(into, (long)inner.Varint(), max)) return false;
        return true;
    }

    private static bool Add(List<long> into, long value, int max)
    {
        if (into.Count >= max) return false;
        into.Add(value);
        return true;
    }

    public readonly InvalidModelFileException Bad(string what) => new(path, $"malformed protobuf at byte {_pos}: {what}");
}
