namespace HeadWise.Formats;

/// <summary>bfloat16, the top half of an IEEE float32: conversions used by every reader and writer.</summary>
public static class BFloat16
{
    /// <summary>Widening is exact: the bits move up.</summary>
    public static float ToFloat(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>float32 to bfloat16 with round-to-nearest-even (as PyTorch and ggml round); NaN stays a quiet NaN.</summary>
    public static ushort FromFloat(float value)
    {
        var bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x0040);
        bits += 0x7FFFu + ((bits >> 16) & 1);
        return (ushort)(bits >> 16);
    }

    /// <summary>
    /// Rounds <paramref name="source"/> into <paramref name="destination"/>. A finite value that rounds to infinity
    /// (|x| above 3.3961e38) cannot be held in bfloat16: that is an error naming the tensor, never a silent inf.
    /// </summary>
    public static void FromFloats(ReadOnlySpan<float> source, Span<ushort> destination, string file, string tensor)
    {
        bool overflow = false;
        for (var i = 0; i < source.Length; i++)
        {
            var b = FromFloat(source[i]);
            overflow |= (b & 0x7FFF) == 0x7F80 && float.IsFinite(source[i]);
            destination[i] = b;
        }
        if (overflow)
            throw new InvalidModelFileException(file,
                $"tensor '{tensor}' holds values beyond bfloat16's range (|x| > 3.39e38) and cannot be converted to bf16; load it with --dtype f32");
    }
}
