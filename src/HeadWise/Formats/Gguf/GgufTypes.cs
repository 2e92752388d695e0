namespace HeadWise.Formats.Gguf;

/// <summary>ggml tensor element types, with the ids GGUF stores (gaps are ids ggml retired).</summary>
public enum GgmlType : uint
{
    F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
    Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
    IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22, IQ4_XS = 23,
    I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
    TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
}

/// <summary>GGUF metadata value type ids.</summary>
public enum GgufValueType : uint
{
    UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7,
    String = 8, Array = 9, UInt64 = 10, Int64 = 11, Float64 = 12,
}

/// <summary>Block geometry of each ggml type: elements per block and bytes per block (ggml's type_traits).</summary>
internal static class GgmlTypeInfo
{
    public static bool IsKnown(uint id) => TryGetLayout((GgmlType)id, out _, out _);

    /// <summary>True for the types <see cref="GgufFile.ReadFloats(GgufTensorInfo, Span{float})"/> can turn into floats.</summary>
    public static bool CanDequantize(GgmlType type) => Dequantize.Supports(type);

    /// <summary>The readable types, for messages.</summary>
    public static string Readable => string.Join(", ", Enum.GetValues<GgmlType>().Where(CanDequantize));

    public static int BlockSize(GgmlType type) => TryGetLayout(type, out var b, out _) ? b : throw new ArgumentOutOfRangeException(nameof(type), type, "unknown ggml type");

    public static int BlockBytes(GgmlType type) => TryGetLayout(type, out _, out var s) ? s : throw new ArgumentOutOfRangeException(nameof(type), type, "unknown ggml type");

    public static bool TryGetLayout(GgmlType type, out int blockSize, out int blockBytes)
    {
        (blockSize, blockBytes) = type switch
        {
            GgmlType.F32 => (1, 4),
            GgmlType.F16 => (1, 2),
            GgmlType.BF16 => (1, 2),
            GgmlType.F64 => (1, 8),
            GgmlType.I8 => (1, 1),
            GgmlType.I16 => (1, 2),
            GgmlType.I32 => (1, 4),
            GgmlType.I64 => (1, 8),
            GgmlType.Q4_0 => (32, 18),
            GgmlType.Q4_1 => (32, 20),
            GgmlType.Q5_0 => (32, 22),
            GgmlType.Q5_1 => (32, 24),
            GgmlType.Q8_0 => (32, 34),
            GgmlType.Q8_1 => (32, 36),
            GgmlType.IQ4_NL => (32, 18),
            GgmlType.MXFP4 => (32, 17),
            GgmlType.Q2_K => (256, 84),
            GgmlType.Q3_K => (256, 110),
            GgmlType.Q4_K => (256, 144),
            GgmlType.Q5_K => (256, 176),
            GgmlType.Q6_K => (256, 210),
            GgmlType.Q8_K => (256, 292),
            GgmlType.IQ2_XXS => (256, 66),
            GgmlType.IQ2_XS => (256, 74),
            GgmlType.IQ3_XXS => (256, 98),
            GgmlType.IQ1_S => (256, 50),
            GgmlType.IQ3_S => (256, 110),
            GgmlType.IQ2_S => (256, 82),
            GgmlType.IQ4_XS => (256, 136),
            GgmlType.IQ1_M => (256, 56),
            GgmlType.TQ1_0 => (256, 54),
            GgmlType.TQ2_0 => (256, 66),
            _ => (0, 0),
        };
        return blockSize != 0;
    }
}

/// <summary>One tensor's entry in the GGUF header.</summary>
/// <param name="Shape">Dimensions in ggml order: Shape[0] is the fastest-varying (torch's last) dimension.</param>
/// <param name="Offset">Byte offset of the data relative to <see cref="GgufFile.DataOffset"/>.</param>
internal sealed record GgufTensorInfo(string Name, long[] Shape, GgmlType Type, ulong Offset, long ElementCount, long ByteSize)
{
    /// <summary>The shape in torch order (slowest dimension first), e.g. [out, in] for a linear weight.</summary>
    public long[] TorchShape
    {
        get
        {
            var s = (long[])Shape.Clone();
            Array.Reverse(s);
            return s;
        }
    }

    public override string ToString() => $"{Name} {Type} [{string.Join(", ", Shape)}] @ {Offset}";
}
