namespace HeadWise.Formats.Safetensors;

/// <summary>Element types safetensors files name, and which of them HeadWise converts to float32.</summary>
public static class SafetensorsDType
{
    public const string F32 = "F32", F16 = "F16", BF16 = "BF16";

    // Every dtype the format defines, so a file holding e.g. an I64 position_ids buffer still validates;
    // only reading such a tensor as floats is refused.
    private static readonly Dictionary<string, int> Sizes = new(StringComparer.Ordinal)
    {
        ["F64"] = 8, ["F32"] = 4, ["F16"] = 2, ["BF16"] = 2, ["F8_E4M3"] = 1, ["F8_E5M2"] = 1,
        ["I64"] = 8, ["I32"] = 4, ["I16"] = 2, ["I8"] = 1, ["U64"] = 8, ["U32"] = 4, ["U16"] = 2, ["U8"] = 1, ["BOOL"] = 1,
    };

    /// <summary>Bytes per element, or 0 for a name the format does not define.</summary>
    public static int SizeOf(string dtype) => Sizes.GetValueOrDefault(dtype);

    public static bool IsReadable(string dtype) => dtype is F32 or F16 or BF16;
}

/// <summary>One tensor's header entry; offsets are relative to the start of the data region.</summary>
internal sealed record SafetensorsTensorInfo(string Name, string DType, long[] Shape, long Begin, long End)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}
