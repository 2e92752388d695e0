using System.Text.RegularExpressions;
using HeadWise.Formats.HuggingFace;
using HeadWise.Models;

namespace HeadWise.Formats.Onnx;

/// <summary>
/// BERT weights from an ONNX export (e.g. all-MiniLM-L6-v2), under canonical names. Exporters keep the bias and
/// LayerNorm names but give the MatMul weights numeric names, so each linear weight is found by walking the
/// graph: the MatMul (or Gemm) whose output is added to the named bias. ONNX MatMul weights are [in, out] and are
/// transposed to [out, in].
/// </summary>
internal sealed partial class OnnxBertWeights : ITensorSource
{
    private readonly MappedTensorSource _tensors;

    private OnnxBertWeights(ModelSpec spec, MappedTensorSource tensors, IReadOnlyList<string> softmax, IReadOnlyList<string> inputs,
        IReadOnlyList<string> outputs)
    {
        Spec = spec; _tensors = tensors; SoftmaxOutputs = softmax; GraphInputs = inputs; GraphOutputs = outputs;
    }

    public ModelSpec Spec { get; }
    /// <summary>Per layer, the name of the attention Softmax node's output (probabilities [batch, heads, seq, seq]).</summary>
    public IReadOnlyList<string> SoftmaxOutputs { get; }
    public IReadOnlyList<string> GraphInputs { get; }
    public IReadOnlyList<string> GraphOutputs { get; }

    /// <param name="heads">Attention head count; read from the graph's reshape constants when null.</param>
    public static OnnxBertWeights Open(string path, int? heads = null)
    {
        if (!File.Exists(path)) throw new InvalidModelFileException(path, "file not found");
        var graph = OnnxGraph.Load(path);
        var inits = new OnnxInitializerSource(path, graph);
        // Exports of BertForX keep a "bert." prefix; accept both.
        string? Find(string name) =>
            inits.Contains(name) ? name : inits.Contains("bert." + name) ? "bert." + name : null;

        var spec = DeriveSpec(path, graph, inits, Find, heads);
        var wanted = HfTensorMap.For(spec, null).Select(t => ResolveLinear(path, graph, t, Find)).ToList();
        var softmax = SoftmaxByLayer(path, graph, spec.Layers);
        var mapped = MappedTensorSource.Build(path, inits, wanted, n => inits.Contains(n) ? n : Find(n));
        return new OnnxBertWeights(spec, mapped, softmax, graph.Inputs, graph.Outputs);
    }

    public void Deconstruct(out ModelSpec spec, out ITensorSource tensors) { spec = Spec; tensors = this; }

    /// <summary>For a linear weight, points the mapping at the initializer the graph multiplies by (transposed when MatMul).</summary>
    private static HfTensor ResolveLinear(string path, OnnxGraph graph, HfTensor t, Func<string, string?> find)
    {
        if (!t.Stored.EndsWith(".weight", StringComparison.Ordinal) || find(t.Stored) != null || t.Shape.Length != 2) return t;
        var biasName = find(t.Stored[..^".weight".Length] + ".bias")
                       ?? throw new InvalidModelFileException(path, $"tensor '{t.Canonical}': bias '{t.Stored[..^7]}.bias' is missing, so its weight cannot be found");
        foreach (var add in graph.Nodes.Where(n => n.OpType == "Add" && n.Inputs.Contains(biasName)))
        {
            var other = add.Inputs.First(i => i != biasName);
            var mm = graph.Producer(other);
            if (mm?.OpType != "MatMul") continue;
            var w = mm.Inputs.FirstOrDefault(i => graph.Initializers.ContainsKey(i));
            if (w != null) return t with { Stored = w, Transform = StoredTransform.Transpose };
        }
        foreach (var gemm in graph.Nodes.Where(n => n.OpType == "Gemm" && n.Inputs.Count == 3 && n.Inputs[2] == biasName))
        {
            var transB = gemm.Ints.GetValueOrDefault("transB") != 0;
            return t with { Stored = gemm.Inputs[1], Transform = transB ? StoredTransform.Copy : StoredTransform.Transpose };
        }
        throw new InvalidModelFileException(path, $"tensor '{t.Canonical}': no MatMul feeding an Add with '{biasName}' was found in the graph");
    }

    private static ModelSpec DeriveSpec(string path, OnnxGraph graph, OnnxInitializerSource inits, Func<string, string?> find, int? heads)
    {
        long[] Shape(string name) => inits.Shape(find(name) ?? throw new InvalidModelFileException(path, $"initializer '{name}' is missing"));
        var words = Shape("embeddings.word_embeddings.weight");
        var positions = Shape("embeddings.position_embeddings.weight");
        var types = Shape("embeddings.token_type_embeddings.weight");
        var ffn = Shape("encoder.layer.0.intermediate.dense.bias");
        if (words.Length != 2) throw new InvalidModelFileException(path, "embeddings.word_embeddings.weight must be 2-D");
        var dim = (int)words[1];
        var layers = 0;
        foreach (var name in inits.Names)
        {
            if (LayerIndex().Match(name) is not { Success: true } m) continue;
            var layer = LayerNumber(m.Groups[1].Value)
                        ?? throw new InvalidModelFileException(path, $"initializer {ErrorText.Quote(name)}: layer number out of range (0..{ModelSpec.MaxLayers - 1})");
            layers = Math.Max(layers, layer + 1);
        }
        var h = heads ?? HeadsFromGraph(graph, find("encoder.layer.0.attention.self.key.bias"), dim)
                ?? throw new InvalidModelFileException(path, "could not read the head count from the graph's reshape; pass heads explicitly");
        var spec = new ModelSpec
        {
            Architecture = "bert",
            Name = Path.GetFileNameWithoutExtension(path),
            Layers = layers,
            Dim = dim,
            Heads = h,
            KvHeads = h,
            HeadDim = dim / h,
            FfnDim = (int)ffn[0],
            VocabSize = (int)words[0],
            ContextLength = (int)positions[0],
            NormEps = Epsilon(graph),
            Norm = NormKind.LayerNorm,
            FeedForward = graph.Nodes.Any(n => n.OpType == "Erf") || !graph.Nodes.Any(n => n.OpType == "Tanh")
                ? FeedForwardKind.Gelu : FeedForwardKind.GeluTanh,
            Positions = PositionKind.Learned,
            Rope = RopeLayout.Halves,
            Causal = false,
            PostNorm = true,
            TokenTypes = (int)types[0],
        };
        spec.Validate(path);
        if (spec.QDim != dim) throw new InvalidModelFileException(path, $"{h} heads do not divide the hidden size {dim}");
        return spec;
    }

    [GeneratedRegex(@"^(?:bert\.)?encoder\.layer\.([0-9]+)\.")]
    private static partial Regex LayerIndex();

    /// <summary>A layer number from a name, or null when it is past <see cref="ModelSpec.MaxLayers"/> (or past int).</summary>
    private static int? LayerNumber(string digits) =>
        int.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && n < ModelSpec.MaxLayers ? n : null;

    /// <summary>
    /// The key projection is reshaped to [batch, seq, heads, head_dim]; the exporter builds that shape with a Concat
    /// whose last two inputs are constants (or passes a constant shape directly).
    /// </summary>
    private static int? HeadsFromGraph(OnnxGraph g, string? keyBias, int dim)
    {
        if (keyBias == null) return null;
        var add = g.Nodes.FirstOrDefault(n => n.OpType == "Add" && n.Inputs.Contains(keyBias));
        var reshape = add == null ? null : g.Nodes.FirstOrDefault(n => n.OpType == "Reshape" && n.Inputs[0] == add.Outputs[0]);
        if (reshape == null || reshape.Inputs.Count < 2) return null;
        long[]? dims = null;
        if (g.Constant(reshape.Inputs[1]) is { } shape) dims = shape.ReadInt64s(g.Data, max: 4);
        else if (g.Producer(reshape.Inputs[1]) is { OpType: "Concat" } concat)
            dims = concat.Inputs.Select(i => g.Constant(i)?.ReadInt64s(g.Data, max: 1) is [var v] ? v : -1).ToArray();
        if (dims is not { Length: 4 } || dims[2] <= 0 || dims[3] <= 0 || dims[2] * dims[3] != dim) return null;
        return (int)dims[2];
    }

    /// <summary>LayerNormalization's epsilon attribute, or (older opsets) the constant added to the variance before Sqrt.</summary>
    private static double Epsilon(OnnxGraph g)
    {
        var ln = g.Nodes.FirstOrDefault(n => n.OpType == "LayerNormalization");
        if (ln != null) return ln.Floats.TryGetValue("epsilon", out var e) ? e : 1e-5;  // ONNX's default
        foreach (var sqrt in g.Nodes.Where(n => n.OpType == "Sqrt"))
        {
            if (g.Producer(sqrt.Inputs[0]) is not { OpType: "Add" } add) continue;
            if (!add.Inputs.Any(i => g.Producer(i)?.OpType == "ReduceMean")) continue;
            foreach (var input in add.Inputs)
                if (g.Constant(input) is { DataType: OnnxTensor.Float, ElementCount: 1 } c)
                {
                    Span<float> v = stackalloc float[1];
                    c.ReadFloats(g.Data, v);
                    return v[0];
                }
        }
        return 1e-12;
    }

    /// <summary>Assigns each Softmax to the layer whose query/key bias is nearest upstream of it.</summary>
    private static IReadOnlyList<string> SoftmaxByLayer(string path, OnnxGraph g, int layers)
    {
        var result = new string?[layers];
        var producers = new Dictionary<string, OnnxNode>();
        foreach (var n in g.Nodes) foreach (var o in n.Outputs) producers.TryAdd(o, n);
        foreach (var softmax in g.Nodes.Where(n => n.OpType == "Softmax"))
        {
            var layer = NearestLayer(softmax, producers);
            if (layer is { } l && l < layers && result[l] == null) result[l] = softmax.Outputs[0];
        }
        for (var l = 0; l < layers; l++)
            if (result[l] == null) throw new InvalidModelFileException(path, $"no attention Softmax node found for layer {l}");
        return result!;
    }

    private static int? NearestLayer(OnnxNode start, Dictionary<string, OnnxNode> producers)
    {
        var queue = new Queue<OnnxNode>([start]);
        var seen = new HashSet<OnnxNode>(ReferenceEqualityComparer.Instance) { start };
        while (queue.Count > 0)
        {
            var node = queue.Dequeue();
            foreach (var input in node.Inputs)
            {
                var m = AttentionBias().Match(input);
                if (m.Success) return LayerNumber(m.Groups[1].Value);
                if (producers.TryGetValue(input, out var p) && seen.Add(p)) queue.Enqueue(p);
            }
        }
        return null;
    }

    [GeneratedRegex(@"encoder\.layer\.([0-9]+)\.attention\.self\.(?:query|key)\.bias$")]
    private static partial Regex AttentionBias();

    public string SourcePath => _tensors.SourcePath;
    public IReadOnlyCollection<string> Names => _tensors.Names;
    public bool Contains(string name) => _tensors.Contains(name);
    public long[] Shape(string name) => _tensors.Shape(name);
    public void ReadFloats(string name, Span<float> destination) => _tensors.ReadFloats(name, destination);
    public void Dispose() => _tensors.Dispose();
}

/// <summary>The graph's float initializers under their own names.</summary>
internal sealed class OnnxInitializerSource(string path, OnnxGraph graph) : ITensorSource
{
    private readonly Dictionary<string, OnnxTensor> _floats =
        graph.Initializers.Values.Where(t => t.DataType == OnnxTensor.Float).ToDictionary(t => t.Name);

    public string SourcePath => path;
    public IReadOnlyCollection<string> Names => _floats.Keys;
    public bool Contains(string name) => _floats.ContainsKey(name);
    public long[] Shape(string name) => Get(name).Dims.ToArray();

    private OnnxTensor Get(string name)
    {
        if (!_floats.TryGetValue(name, out var t)) throw new InvalidModelFileException(path, $"float initializer '{name}' is missing");
        if (t.External) throw new InvalidModelFileException(path, $"initializer '{name}' uses external data, which is not supported");
        if (t.Dims.Any(d => d < 0) || t.StoredFloatCount != t.ElementCount)
            throw new InvalidModelFileException(path, $"initializer '{name}' has dims [{string.Join(", ", t.Dims)}] but stores {t.StoredFloatCount} floats");
        return t;
    }

    public void ReadFloats(string name, Span<float> destination)
    {
        var t = Get(name);
        if (destination.Length != t.ElementCount)
            throw new ArgumentException($"initializer '{name}' has {t.ElementCount} elements but the destination holds {destination.Length}");
        t.ReadFloats(graph.Data, destination);
    }

    public void Dispose() { }
}
