namespace HeadWise.Fuzz;

/// <summary>
/// Shrinks a real ONNX model below AFL++'s 1 MB input limit for a seed: the graph (nodes, inputs, outputs, dims,
/// attributes, small initializers) is kept byte for byte; only the raw_data of initializers over 64 KB is dropped.
/// The reader's graph walk and spec derivation run on dims, so the seed still takes the real path through them.
/// </summary>
internal static class OnnxSkeleton
{
    private const int KeepBytes = 64 << 10;

    public static byte[] Shrink(byte[] model)
    {
        var output = new MemoryStream();
        foreach (var (field, wire, start, end) in Fields(model, 0, model.Length))
        {
            if (field == 7 && wire == 2) WriteLengthDelimited(output, 7, Graph(model, PayloadStart(model, start), end));
            else output.Write(model, start, end - start);
        }
        return output.ToArray();
    }

    private static byte[] Graph(byte[] data, int start, int end)
    {
        var output = new MemoryStream();
        foreach (var (field, wire, s, e) in Fields(data, start, end))
        {
            if (field == 5 && wire == 2) WriteLengthDelimited(output, 5, Tensor(data, PayloadStart(data, s), e));
            else output.Write(data, s, e - s);
        }
        return output.ToArray();
    }

    private static byte[] Tensor(byte[] data, int start, int end)
    {
        var output = new MemoryStream();
        foreach (var (field, wire, s, e) in Fields(data, start, end))
            if (!(field == 9 && wire == 2 && e - PayloadStart(data, s) > KeepBytes)) output.Write(data, s, e - s);
        return output.ToArray();
    }

    /// <summary>Each field of a message as (number, wire type, first byte of its key, end).</summary>
    private static IEnumerable<(int Field, int Wire, int Start, int End)> Fields(byte[] data, int pos, int end)
    {
        while (pos < end)
        {
            int start = pos;
            ulong key = Varint(data, ref pos);
            int wire = (int)(key & 7);
            switch (wire)
            {
                case 0: Varint(data, ref pos); break;
                case 1: pos += 8; break;
                case 2: var len = (int)Varint(data, ref pos); pos += len; break;
                case 5: pos += 4; break;
                default: throw new InvalidDataException($"wire type {wire} at byte {start}");
            }
            yield return ((int)(key >> 3), wire, start, pos);
        }
    }

    private static int PayloadStart(byte[] data, int fieldStart)
    {
        int pos = fieldStart;
        Varint(data, ref pos);
        Varint(data, ref pos);
        return pos;
    }

    private static ulong Varint(byte[] data, ref int pos)
    {
        ulong v = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = data[pos++];
            v |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80) return v;
        }
    }

    private static void WriteLengthDelimited(Stream s, int field, byte[] payload)
    {
        WriteVarint(s, (ulong)(field << 3 | 2));
        WriteVarint(s, (ulong)payload.Length);
        s.Write(payload);
    }

    private static void WriteVarint(Stream s, ulong v)
    {
        while (v >= 0x80) { s.WriteByte((byte)(v | 0x80)); v >>= 7; }
        s.WriteByte((byte)v);
    }
}
