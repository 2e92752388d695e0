using HeadWise.Formats;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Models;

/// <summary>All parameters of a model as float32 tensors, built from any <see cref="ITensorSource"/> with every shape checked.</summary>
public sealed class ModelWeights : IDisposable
{
    public required Tensor TokenEmbedding { get; init; }
    public Tensor? PositionEmbedding { get; init; }
    public Tensor? TokenTypeEmbedding { get; init; }
    public Tensor? EmbeddingNorm { get; init; }
    public Tensor? EmbeddingNormBias { get; init; }
    public required IReadOnlyList<LayerWeights> Layers { get; init; }
    /// <summary>Final norm; null for post-norm encoders (BERT), whose last block already ends in a norm.</summary>
    public Tensor? OutputNorm { get; init; }
    public Tensor? OutputNormBias { get; init; }
    /// <summary>Unembedding [vocab, dim]; the token embedding itself when tied; null for encoders.</summary>
    public Tensor? Output { get; init; }

    public IEnumerable<Tensor> All()
    {
        foreach (var t in new[] { TokenEmbedding, PositionEmbedding, TokenTypeEmbedding, EmbeddingNorm, EmbeddingNormBias, OutputNorm, OutputNormBias })
            if (t is not null) yield return t;
        foreach (var l in Layers)
            foreach (var t in l.All()) yield return t;
        if (Output is not null && !ReferenceEquals(Output, TokenEmbedding)) yield return Output;
    }

    public long ParameterCount => All().Sum(t => t.numel());

    /// <summary>Sets requires_grad on every parameter (training).</summary>
    public void RequireGrad(bool on) { foreach (var t in All()) t.requires_grad_(on); }

    public void Dispose() { foreach (var t in All()) t.Dispose(); }

    /// <summary>Reads every tensor the spec needs from <paramref name="source"/>, checking shapes first.</summary>
    public static ModelWeights Load(ModelSpec spec, ITensorSource source)
    {
        Runtime.Torch.EnsureStarted();
        var loader = new Loader(spec, source);
        return loader.Build();
    }

    private sealed class Loader(ModelSpec spec, ITensorSource source)
    {
        public ModelWeights Build()
        {
            CheckShapes();
            int d = spec.Dim, f = spec.FfnDim;
            bool layerNorm = spec.Norm == NormKind.LayerNorm;
            var layers = new List<LayerWeights>();
            for (int l = 0; l < spec.Layers; l++)
            {
                string p = $"blk.{l}.";
                layers.Add(new LayerWeights
                {
                    AttnNorm = spec.PostNorm ? Opt(p + "attn_output_norm.weight")! : Req(p + "attn_norm.weight"),
                    AttnNormBias = spec.PostNorm ? Opt(p + "attn_output_norm.bias") : Opt(p + "attn_norm.bias"),
                    Wq = Req(p + "attn_q.weight"), Wk = Req(p + "attn_k.weight"), Wv = Req(p + "attn_v.weight"),
                    Wo = Req(p + "attn_output.weight"),
                    Bq = Opt(p + "attn_q.bias"), Bk = Opt(p + "attn_k.bias"), Bv = Opt(p + "attn_v.bias"), Bo = Opt(p + "attn_output.bias"),
                    QNorm = spec.QkNorm ? Req(p + "attn_q_norm.weight") : null,
                    KNorm = spec.QkNorm ? Req(p + "attn_k_norm.weight") : null,
                    FfnNorm = spec.PostNorm ? Req(p + "layer_output_norm.weight") : Req(p + "ffn_norm.weight"),
                    FfnNormBias = spec.PostNorm ? Opt(p + "layer_output_norm.bias") : Opt(p + "ffn_norm.bias"),
                    WGate = spec.FeedForward == FeedForwardKind.SwiGlu ? Req(p + "ffn_gate.weight") : null,
                    WUp = Req(p + "ffn_up.weight"), BUp = Opt(p + "ffn_up.bias"),
                    WDown = Req(p + "ffn_down.weight"), BDown = Opt(p + "ffn_down.bias"),
                });
            }
            var embed = Req("token_embd.weight");
            return new ModelWeights
            {
                TokenEmbedding = embed,
                PositionEmbedding = spec.Positions == PositionKind.Learned ? Req("position_embd.weight") : null,
                TokenTypeEmbedding = spec.TokenTypes > 0 ? Req("token_types.weight") : null,
                EmbeddingNorm = Opt("token_embd_norm.weight"),
                EmbeddingNormBias = Opt("token_embd_norm.bias"),
                Layers = layers,
                OutputNorm = spec.PostNorm ? null : Req("output_norm.weight"),
                OutputNormBias = spec.PostNorm ? null : Opt("output_norm.bias"),
                Output = !spec.Causal ? null : spec.TiedEmbeddings || !source.Contains("output.weight") ? embed : Req("output.weight"),
            };
        }

        private void CheckShapes()
        {
            int d = spec.Dim, f = spec.FfnDim, hd = spec.HeadDim;
            var expected = new Dictionary<string, long[]> { ["token_embd.weight"] = [spec.VocabSize, d] };
            if (spec.Positions == PositionKind.Learned) expected["position_embd.weight"] = [spec.ContextLength, d];
            if (spec.Causal && !spec.TiedEmbeddings && source.Contains("output.weight")) expected["output.weight"] = [spec.VocabSize, d];
            for (int l = 0; l < spec.Layers; l++)
            {
                string p = $"blk.{l}.";
                expected[p + "attn_q.weight"] = [spec.QDim, d];
                expected[p + "attn_k.weight"] = [spec.KvDim, d];
                expected[p + "attn_v.weight"] = [spec.KvDim, d];
                expected[p + "attn_output.weight"] = [d, spec.QDim];
                expected[p + "ffn_up.weight"] = [f, d];
                expected[p + "ffn_down.weight"] = [d, f];
                if (spec.FeedForward == FeedForwardKind.SwiGlu) expected[p + "ffn_gate.weight"] = [f, d];
                if (spec.QkNorm) { expected[p + "attn_q_norm.weight"] = [hd]; expected[p + "attn_k_norm.weight"] = [hd]; }
                if (spec.PostNorm) { expected[p + "attn_output_norm.weight"] = [d]; expected[p + "layer_output_norm.weight"] = [d]; }
                else { expected[p + "attn_norm.weight"] = [d]; expected[p + "ffn_norm.weight"] = [d]; }
            }
            foreach (var (name, shape) in expected)
            {
                if (!source.Contains(name))
                    throw new InvalidModelFileException(source.SourcePath, $"tensor '{name}' is missing (expected shape [{string.Join(", ", shape)}])");
                var found = source.Shape(name);
                if (!found.SequenceEqual(shape))
                    throw new InvalidModelFileException(source.SourcePath,
                        $"tensor '{name}' has shape [{string.Join(", ", found)}], expected [{string.Join(", ", shape)}]");
            }
        }

        private Tensor Req(string name)
        {
            if (!source.Contains(name)) throw new InvalidModelFileException(source.SourcePath, $"tensor '{name}' is missing");
            return Read(name);
        }

        private Tensor? Opt(string name) => source.Contains(name) ? Read(name) : null;

        private Tensor Read(string name)
        {
            var t = torch.empty(source.Shape(name), ScalarType.Float32);
            // Tensor.bytes is a view of the tensor's own memory: the source writes straight into it, no extra copy.
            source.ReadFloats(name, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.bytes));
            return t;
        }
    }
}
