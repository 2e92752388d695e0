using System.Runtime.InteropServices;

namespace HeadWise.Formats.Onnx;

/// <summary>
/// An ONNX tensor (initializer or Constant value); its data stays in the file's byte array. float_data and int64_data
/// are read from the tensor's own message when asked for, never held as lists, so millions of one-byte fields cost
/// nothing while the graph is read.
/// </summary>
internal sealed class OnnxTensor
{
    public const int Float = 1, Int64 = 7;
    /// <summary>ONNX sets no rank limit; the tensors HeadWise reads have 1 to 4 dims.</summary>
    public const int MaxRank = 64;
    public string Name = "";
    public int DataType;
    public readonly List<long> Dims = [];
    public (int Offset, int Length) Raw = (-1, 0);
    public bool External;
    private ProtoReader _message;  // a copy positioned at the start of the tensor's fields
    private long _floatData;       // float_data values, packed or not

    /// <summary>The product of the dims; long.MaxValue when it overflows (no stored count can match it).</summary>
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (var d in Dims)
                n = d == 0 || n == 0 ? 0 : d < 0 || n > long.MaxValue / d ? long.MaxValue : n * d;
            return n;
        }
    }

    /// <summary>Stored element count, to check it against the dims.</summary>
    public long StoredFloatCount => Raw.Offset >= 0 ? Raw.Length / 4 : _floatData;

    public void ReadFloats(byte[] data, Span<float> dst)
    {
        if (Raw.Offset >= 0) { MemoryMarshal.Cast<byte, float>(data.AsSpan(Raw.Offset, Raw.Length)).CopyTo(dst); return; }
        var r = _message;
        int i = 0;
        while (r.Next())
        {
            if (r.Field == 4 && r.Wire == 2)
            {
                var (o, l) = r.Bytes();
                var values = MemoryMarshal.Cast<byte, float>(data.AsSpan(o, l));
                values.CopyTo(dst[i..]);
                i += values.Length;
            }
            else if (r.Field == 4 && r.Wire == 5) dst[i++] = BitConverter.UInt32BitsToSingle(r.Fixed32());
            else r.Skip();
        }
    }

    /// <summary>The int64 values when there are at most <paramref name="max"/> of them (a shape), else null.</summary>
    public long[]? ReadInt64s(byte[] data, int max)
    {
        if (Raw.Offset >= 0)
            return Raw.Length / 8 > max ? null : MemoryMarshal.Cast<byte, long>(data.AsSpan(Raw.Offset, Raw.Length)).ToArray();
        var values = new List<long>();
        var r = _message;
        while (r.Next())
        {
            if (r.Field != 7) r.Skip();
            else if (!r.Varints(values, max)) return null;
        }
        return values.ToArray();
    }

    public static OnnxTensor Parse(ProtoReader r, GraphBudget budget)
    {
        budget.Charge(GraphBudget.TensorBytes);
        var t = new OnnxTensor { _message = r };
        while (r.Next())
        {
            switch (r.Field, r.Wire)
            {
                case (1, _): if (!r.Varints(t.Dims, MaxRank)) throw r.Bad($"a tensor with more than {MaxRank} dims"); break;
                case (2, 0): t.DataType = (int)r.Varint(); break;
                case (4, 2): t._floatData += r.Bytes().Length / 4; break;
                case (4, 5): r.Fixed32(); t._floatData++; break;
                case (8, 2): t.Name = budget.Name(ref r); break;
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
    private GraphBudget _budget = null!;
    /// <summary>What the graph was charged against <see cref="GraphBudget.Limit"/>.</summary>
    public long BudgetUsed => _budget.Used;

    public static OnnxGraph Load(string path)
    {
        var data = BoundedFile.ReadAllBytes(path, "ONNX model", FileLimits.OnnxModel);
        var graph = new OnnxGraph { Data = data, _budget = new GraphBudget(path) };
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
                case (5, 2): var t = OnnxTensor.Parse(g.Message(), _budget); Initializers[t.Name] = t; break;
                case (11, 2): Inputs.Add(ValueInfoName(g.Message())); break;
                case (12, 2): Outputs.Add(ValueInfoName(g.Message())); break;
                default: g.Skip(); break;
            }
        }
    }

    private string ValueInfoName(ProtoReader r)
    {
        _budget.Charge(GraphBudget.EntryBytes);
        var name = "";
        while (r.Next()) { if (r.Field == 1 && r.Wire == 2) name = _budget.Name(ref r); else r.Skip(); }
        return name;
    }

    private OnnxNode ReadNode(ProtoReader r)
    {
        _budget.Charge(GraphBudget.NodeBytes);
        var node = new OnnxNode("", "", [], [], new(), new(), new());
        while (r.Next())
        {
            switch (r.Field, r.Wire)
            {
                case (1, 2): node.Inputs.Add(_budget.Name(ref r)); break;
                case (2, 2): node.Outputs.Add(_budget.Name(ref r)); break;
                case (3, 2): node = node with { Name = _budget.Name(ref r) }; break;
                case (4, 2): node = node with { OpType = _budget.Name(ref r) }; break;
                case (5, 2): ReadAttribute(r.Message(), node); break;
                default: r.Skip(); break;
            }
        }
        return node;
    }

    private void ReadAttribute(ProtoReader r, OnnxNode node)
    {
        _budget.Charge(GraphBudget.AttributeBytes);
        string name = "";
        float? f = null; long? i = null; OnnxTensor? t = null;
        while (r.Next())
        {
            switch (r.Field, r.Wire)
            {
                case (1, 2): name = _budget.Name(ref r); break;
                case (2, 5): f = BitConverter.UInt32BitsToSingle(r.Fixed32()); break;
                case (3, 0): i = (long)r.Varint(); break;
                case (5, 2): t = OnnxTensor.Parse(r.Message(), _budget); break;
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

/// <summary>
/// What the parts of a graph kept in memory (nodes, names, tensors, attributes) may take. Each part is charged before it
/// is kept, so a file of tiny messages (a 2-byte empty node holds a few hundred bytes) cannot grow memory past
/// <see cref="Limit"/>, whatever the file's size. MiniLM's graph is charged under 1 MiB.
/// </summary>
internal sealed class GraphBudget(string path)
{
    public const long Limit = 64L << 20;
    /// <summary>Approximate bytes held per part: an entry in a list, a node (record, lists, dictionaries), an attribute,
    /// a tensor (with up to <see cref="OnnxTensor.MaxRank"/> dims), and per name its object plus UTF-16 characters.</summary>
    public const int EntryBytes = 8, NodeBytes = 320, AttributeBytes = 96, TensorBytes = 800, NameBytes = 40;
    /// <summary>Names in ONNX graphs are short; a longer one is not a name.</summary>
    public const int MaxName = 1 << 16;
    private long _used;

    public long Used => _used;

    public void Charge(long bytes)
    {
        _used += bytes;
        if (_used > Limit)
            throw new InvalidModelFileException(path, $"the graph's nodes, names and tensors would take more than {Limit >> 20} MiB of memory; no ONNX model HeadWise reads comes near that");
    }

    public string Name(ref ProtoReader r)
    {
        var name = r.String(MaxName);
        Charge(NameBytes + 2L * name.Length);
        return name;
    }
}
