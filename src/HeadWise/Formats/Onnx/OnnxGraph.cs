using System.Runtime.InteropServices;

namespace HeadWise.Formats.Onnx;

/// <summary>An ONNX tensor (initializer or Constant value); its data stays in the file's byte array.</summary>
internal sealed class OnnxTensor
{
    public const int Float = 1, Int64 = 7;
    public string Name = "";
    public int DataType;
    public readonly List<long> Dims = [];
    public (int Offset, int Length) Raw = (-1, 0);
    public (int Offset, int Length) PackedFloats = (-1, 0);
    public readonly List<float> Floats = [];  // unpacked float_data, rare
    public readonly List<long> Int64s = [];
    public bool External;

    public long ElementCount => Dims.Aggregate(1L, (a, b) => a * b);

    public void ReadFloats(byte[] data, Span<float> dst)
    {
        if (Raw.Offset >= 0) MemoryMarshal.Cast<byte, float>(data.AsSpan(Raw.Offset, Raw.Length)).CopyTo(dst);
        else if (PackedFloats.Offset >= 0) MemoryMarshal.Cast<byte, float>(data.AsSpan(PackedFloats.Offset, PackedFloats.Length)).CopyTo(dst);
        else CollectionsMarshal.AsSpan(Floats).CopyTo(dst);
    }

    /// <summary>Stored element count, to check it against the dims.</summary>
    public long StoredFloatCount =>
        Raw.Offset >= 0 ? Raw.Length / 4 : PackedFloats.Offset >= 0 ? PackedFloats.Length / 4 : Floats.Count;

    public long[] ReadInt64s(byte[] data) => Raw.Offset >= 0
        ? MemoryMarshal.Cast<byte, long>(data.AsSpan(Raw.Offset, Raw.Length)).ToArray()
        : Int64s.ToArray();

    public static OnnxTensor Parse(ProtoReader r)
    {
        var t = new OnnxTensor();
        while (r.Next())
        {
            switch (r.Field, r.Wire)
            {
                case (1, _): r.Varints(t.Dims); break;
                case (2, 0): t.DataType = (int)r.Varint(); break;
                case (4, 2): t.PackedFloats = r.Bytes(); break;
                case (4, 5): t.Floats.Add(BitConverter.UInt32BitsToSingle(r.Fixed32())); break;
                case (7, _): r.Varints(t.Int64s); break;
                case (8, 2): t.Name = r.String(); break;
                case (9, 2): t.Raw = r.Bytes(); break;
                case (14, 0): t.External = r.Varint() == 1; break;
                default: r.Skip(); break;
            }
        }
        return t;
    }
}

internal sealed record OnnxNode(string Name, string OpType, List<string> Inputs, List<string> Outputs,
    Dictionary<string, float> Floats, Dictionary<string, long> Ints, Dictionary<string, OnnxTensor> Tensors);

/// <summary>The parts of an ONNX ModelProto.graph that HeadWise reads: nodes, initializers, graph inputs/outputs.</summary>
internal sealed class OnnxGraph
{
    public required byte[] Data { get; init; }
    public List<OnnxNode> Nodes { get; } = [];
    public Dictionary<string, OnnxTensor> Initializers { get; } = new(StringComparer.Ordinal);
    public List<string> Inputs { get; } = [];
    public List<string> Outputs { get; } = [];

    public static OnnxGraph Load(string path)
    {
        var data = BoundedFile.ReadAllBytes(path, "ONNX model", FileLimits.OnnxModel);
        var graph = new OnnxGraph { Data = data };
        var model = new ProtoReader(data, 0, data.Length, path);
        var found = false;
        while (model.Next())
        {
            if (model.Field == 7 && model.Wire == 2) { graph.ReadGraph(model.Message()); found = true; }
            else model.Skip();
        }
        if (!found) throw new InvalidModelFileException(path, "not an ONNX model: ModelProto has no graph (field 7)");
        return graph;
    }

    private void ReadGraph(ProtoReader g)
    {
        while (g.Next())
        {
            switch (g.Field, g.Wire)
            {
                case (1, 2): Nodes.Add(ReadNode(g.Message())); break;
                case (5, 2): var t = OnnxTensor.Parse(g.Message()); Initializers[t.Name] = t; break;
                case (11, 2): Inputs.Add(ValueInfoName(g.Message())); break;
                case (12, 2): Outputs.Add(ValueInfoName(g.Message())); break;
                default: g.Skip(); break;
            }
        }
    }

    private static string ValueInfoName(ProtoReader r)
    {
        var name = "";
        while (r.Next()) { if (r.Field == 1 && r.Wire == 2) name = r.String(); else r.Skip(); }
        return name;
    }

    private static OnnxNode ReadNode(ProtoReader r)
    {
        var node = new OnnxNode("", "", [], [], new(), new(), new());
        while (r.Next())
        {
            switch (r.Field, r.Wire)
            {
                case (1, 2): node.Inputs.Add(r.String()); break;
                case (2, 2): node.Outputs.Add(r.String()); break;
                case (3, 2): node = node with { Name = r.String() }; break;
                case (4, 2): node = node with { OpType = r.String() }; break;
                case (5, 2): ReadAttribute(r.Message(), node); break;
                default: r.Skip(); break;
            }
        }
        return node;
    }

    private static void ReadAttribute(ProtoReader r, OnnxNode node)
    {
        string name = "";
        float? f = null; long? i = null; OnnxTensor? t = null;
        while (r.Next())
        {
            switch (r.Field, r.Wire)
            {
                case (1, 2): name = r.String(); break;
                case (2, 5): f = BitConverter.UInt32BitsToSingle(r.Fixed32()); break;
                case (3, 0): i = (long)r.Varint(); break;
                case (5, 2): t = OnnxTensor.Parse(r.Message()); break;
                default: r.Skip(); break;
            }
        }
        if (f is { } fv) node.Floats[name] = fv;
        if (i is { } iv) node.Ints[name] = iv;
        if (t != null) node.Tensors[name] = t;
    }

    /// <summary>A constant value by name: an initializer or the output of a Constant node.</summary>
    public OnnxTensor? Constant(string name)
    {
        if (Initializers.TryGetValue(name, out var t)) return t;
        var node = Nodes.FirstOrDefault(n => n.OpType == "Constant" && n.Outputs.Contains(name));
        return node != null && node.Tensors.TryGetValue("value", out var v) ? v : null;
    }

    public OnnxNode? Producer(string output) => Nodes.FirstOrDefault(n => n.Outputs.Contains(output));
}
