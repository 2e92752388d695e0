using HeadWise.Formats;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Models;

/// <summary>
/// All parameters of a model by canonical name (<see cref="TensorLayout"/>), built from any <see cref="ITensorSource"/>
/// with every shape checked first. Matrices are held in the compute dtype, vectors (norms, biases) in float32.
/// </summary>
public sealed class ModelWeights : IDisposable
{
    private readonly Dictionary<string, Tensor> _global;
    // Matrices whose products round their input as ggml does (LoadOptions.Activations); empty by default.
    private readonly Dictionary<Tensor, Formats.Gguf.GgmlProduct> _ggmlProducts = new(ReferenceEqualityComparer.Instance);

    /// <param name="global">Tensors outside the blocks by canonical name (token_embd.weight, output_norm.weight, ...).</param>
    public ModelWeights(IEnumerable<KeyValuePair<string, Tensor>> global, IReadOnlyList<LayerWeights> layers)
    {
        _global = new(global, StringComparer.Ordinal);
        if (!_global.ContainsKey("token_embd.weight")) throw new ArgumentException("token_embd.weight is required", nameof(global));
        Layers = layers;
    }

    public IReadOnlyList<LayerWeights> Layers { get; }
    private Tensor? Get(string name) => _global.GetValueOrDefault(name);

    public Tensor TokenEmbedding => _global["token_embd.weight"];
    public Tensor? PositionEmbedding => Get("position_embd.weight");
    public Tensor? TokenTypeEmbedding => Get("token_types.weight");
    public Tensor? EmbeddingNorm => Get("token_embd_norm.weight");
    public Tensor? EmbeddingNormBias => Get("token_embd_norm.bias");
    /// <summary>Final norm; null for post-norm encoders (BERT), whose last block already ends in a norm.</summary>
    public Tensor? OutputNorm => Get("output_norm.weight");
    public Tensor? OutputNormBias => Get("output_norm.bias");
    /// <summary>Unembedding [vocab, dim]: output.weight, or the token embedding itself when tied (encoders have none and never ask).</summary>
    public Tensor Output => Get("output.weight") ?? TokenEmbedding;
    public bool TiedOutput => !_global.ContainsKey("output.weight");

    /// <summary>Every tensor by canonical name: the embeddings and final norm, the blocks (blk.N.*), then output.weight.
    /// This order is the one training checkpoints are saved in.</summary>
    public IEnumerable<(string Name, Tensor Tensor)> Named()
    {
        foreach (var (name, t) in _global)
            if (name != "output.weight") yield return (name, t);
        for (int l = 0; l < Layers.Count; l++)
            foreach (var (name, t) in Layers[l].Tensors) yield return ($"blk.{l}.{name}", t);
        if (Get("output.weight") is { } output) yield return ("output.weight", output);
    }

    public IEnumerable<Tensor> All() => Named().Select(n => n.Tensor);

    /// <summary>True when some matrix rounds its products' input (<see cref="ActivationRounding.Ggml"/>).</summary>
    public bool RoundsActivations => _ggmlProducts.Count > 0;

    /// <summary>How ggml computes products with <paramref name="weight"/> (<see cref="ActivationRounding.Ggml"/>); null: a plain product.</summary>
    public Formats.Gguf.GgmlProduct? GgmlProductFor(Tensor weight) => _ggmlProducts.GetValueOrDefault(weight);

    public long ParameterCount => All().Sum(t => t.numel());

    /// <summary>Bytes the parameters occupy in memory.</summary>
    public long Bytes => All().Sum(t => t.numel() * t.ElementSize);

    /// <summary>Sets requires_grad on every parameter (training).</summary>
    public void RequireGrad(bool on) { foreach (var t in All()) t.requires_grad_(on); }

    /// <summary>The same weights with every tensor mapped (a dtype cast): a new set the caller disposes.</summary>
    public ModelWeights Select(Func<string, Tensor, Tensor> map) =>
        new(_global.Select(kv => KeyValuePair.Create(kv.Key, map(kv.Key, kv.Value))), Layers.Select(l => l.Select(map)).ToList());

    public void Dispose()
    {
        foreach (var t in All()) t.Dispose();
        foreach (var p in _ggmlProducts.Values) p.BlockMinimums?.Dispose();
    }

    /// <summary>Reads every tensor of the spec's layout from <paramref name="source"/>, checking names and shapes before reading any.</summary>
    internal static ModelWeights Load(ModelSpec spec, ITensorSource source, ActivationRounding activations = ActivationRounding.None)
    {
        Runtime.Torch.EnsureStarted();
        var present = CheckLayout(spec, source);
        var global = new List<KeyValuePair<string, Tensor>>();
        var layers = Enumerable.Range(0, spec.Layers).Select(_ => new List<KeyValuePair<string, Tensor>>()).ToList();
        var memory = Allocate(spec, present);
        try
        {
            for (int i = 0; i < present.Count; i++)
            {
                var (layer, local) = TensorLayout.Split(present[i].Name);
                Read(spec, source, present[i], memory[i]);
                (layer < 0 ? global : layers[layer]).Add(KeyValuePair.Create(local, memory[i]));
            }
        }
        catch
        {
            foreach (var t in memory) t.Dispose();
            throw;
        }
        var weights = new ModelWeights(global, layers.Select(l => new LayerWeights(l)).ToList());
        if (activations == ActivationRounding.Ggml)
            foreach (var (name, t) in weights.Named())
                if (t.dim() == 2 && source.StoredType(name) is { } stored && Formats.Gguf.GgmlActivations.For(stored) is var f && f != Formats.Gguf.GgmlActivation.None)
                    weights._ggmlProducts[t] = new(f, source.BlockMinimums(name) is { } mins ? torch.tensor(mins, [t.shape[0], mins.Length / t.shape[0]]) : null);
        return weights;
    }

    /// <summary>The layout's tensors the source holds; a required one missing, or any with the wrong shape, is an error naming it.</summary>
    private static List<TensorSlot> CheckLayout(ModelSpec spec, ITensorSource source)
    {
        var present = new List<TensorSlot>();
        foreach (var slot in TensorLayout.For(spec))
        {
            string expected = $"[{string.Join(", ", slot.Shape)}]";
            if (!source.Contains(slot.Name))
            {
                if (slot.Required) throw new InvalidModelFileException(source.SourcePath, $"tensor '{slot.Name}' is missing (expected shape {expected})");
                continue;
            }
            var found = source.Shape(slot.Name);
            if (!found.SequenceEqual(slot.Shape))
                throw new InvalidModelFileException(source.SourcePath, $"tensor '{slot.Name}' has shape [{string.Join(", ", found)}], expected {expected}");
            present.Add(slot);
        }
        return present;
    }

    /// <summary>Matrices in the compute dtype, vectors in float32.</summary>
    private static ScalarType TypeOf(ModelSpec spec, TensorSlot slot) =>
        spec.Compute == ComputeDType.BF16 && slot.Shape.Length >= 2 ? ScalarType.BFloat16 : ScalarType.Float32;

    /// <summary>
    /// Uninitialised memory for each slot, in the layout's order: one <see cref="Runtime.HugePages.Block"/> per dtype, so
    /// a decode step streams the matrices from huge pages.
    /// </summary>
    private static Tensor[] Allocate(ModelSpec spec, List<TensorSlot> present)
    {
        var memory = new Tensor[present.Count];
        foreach (var group in Enumerable.Range(0, present.Count).GroupBy(i => TypeOf(spec, present[i])))
        {
            var block = Runtime.HugePages.Block(group.Select(i => present[i].Shape).ToList(), group.Key);
            foreach (var (i, t) in group.Zip(block)) memory[i] = t;
        }
        return memory;
    }

    /// <summary>The slot's values into <paramref name="t"/>. Tensor.bytes is a view of the tensor's own memory: the source
    /// writes straight into it, no extra copy.</summary>
    private static void Read(ModelSpec spec, ITensorSource source, TensorSlot slot, Tensor t)
    {
        if (t.dtype == ScalarType.BFloat16) source.ReadBFloat16(slot.Name, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(t.bytes));
        else source.ReadFloats(slot.Name, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.bytes));
    }
}
