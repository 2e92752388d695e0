using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Tests.Heads;

/// <summary>
/// Small random models built in-process, one per family switch, so every code path of the forward pass is covered
/// without checkpoint files: llama (RMSNorm, SwiGLU, RoPE, GQA), gpt2-like (LayerNorm, GELU, learned positions, biases),
/// qwen2-like (QKV biases, halves RoPE), qwen3-like (QK norm), bert-like (post-norm, bidirectional, no logits).
/// </summary>
public static class TinyModels
{
    public static readonly string[] Families = ["llama", "gpt2", "qwen2", "qwen3", "bert"];
    public static readonly string[] Decoders = ["llama", "gpt2", "qwen2", "qwen3"];

    public static Transformer Build(string family, int seed = 11)
    {
        Runtime.Torch.EnsureStarted();
        var spec = family switch
        {
            "llama" => Base("llama") with { KvHeads = 2 },
            "gpt2" => Base("gpt2") with { Norm = NormKind.LayerNorm, FeedForward = FeedForwardKind.GeluTanh, Positions = PositionKind.Learned, TiedEmbeddings = true },
            "qwen2" => Base("qwen2") with { KvHeads = 2, Rope = RopeLayout.Halves },
            "qwen3" => Base("qwen3") with { KvHeads = 2, Rope = RopeLayout.Halves, QkNorm = true },
            "bert" => Base("bert") with { Norm = NormKind.LayerNorm, FeedForward = FeedForwardKind.Gelu, Positions = PositionKind.Learned, Causal = false, PostNorm = true },
            _ => throw new ArgumentException(family),
        };
        bool biases = family is "gpt2" or "bert" or "qwen2";
        bool layerNorm = spec.Norm == NormKind.LayerNorm;
        var gen = new Generator(seed);
        Tensor R(float std, params long[] shape) => (torch.randn(shape, generator: gen.Torch) * std).DetachFromDisposeScope();
        Tensor Gain() => (1 + R(0.1f, spec.Dim)).DetachFromDisposeScope();
        int d = spec.Dim, f = spec.FfnDim;
        var layers = Enumerable.Range(0, spec.Layers).Select(_ => new LayerWeights
        {
            AttnNorm = Gain(), AttnNormBias = layerNorm ? R(0.1f, d) : null,
            Wq = R(2f / MathF.Sqrt(d), spec.QDim, d), Wk = R(2f / MathF.Sqrt(d), spec.KvDim, d), Wv = R(1f / MathF.Sqrt(d), spec.KvDim, d),
            Wo = R(1f / MathF.Sqrt(spec.QDim), d, spec.QDim),
            Bq = biases ? R(0.1f, spec.QDim) : null, Bk = biases ? R(0.1f, spec.KvDim) : null, Bv = biases ? R(0.1f, spec.KvDim) : null,
            Bo = family is "gpt2" or "bert" ? R(0.1f, d) : null,
            QNorm = spec.QkNorm ? (1 + R(0.1f, spec.HeadDim)).DetachFromDisposeScope() : null,
            KNorm = spec.QkNorm ? (1 + R(0.1f, spec.HeadDim)).DetachFromDisposeScope() : null,
            FfnNorm = Gain(), FfnNormBias = layerNorm ? R(0.1f, d) : null,
            WGate = spec.FeedForward == FeedForwardKind.SwiGlu ? R(1f / MathF.Sqrt(d), f, d) : null,
            WUp = R(1f / MathF.Sqrt(d), f, d), BUp = layerNorm ? R(0.1f, f) : null,
            WDown = R(1f / MathF.Sqrt(f), d, f), BDown = layerNorm ? R(0.1f, d) : null,
        }).ToList();
        var embed = R(1f, spec.VocabSize, d);
        var weights = new ModelWeights
        {
            TokenEmbedding = embed,
            PositionEmbedding = spec.Positions == PositionKind.Learned ? R(0.3f, spec.ContextLength, d) : null,
            EmbeddingNorm = spec.PostNorm ? Gain() : null,
            EmbeddingNormBias = spec.PostNorm ? R(0.1f, d) : null,
            Layers = layers,
            OutputNorm = spec.PostNorm ? null : Gain(),
            OutputNormBias = spec.PostNorm || !layerNorm ? null : R(0.1f, d),
            Output = !spec.Causal ? null : spec.TiedEmbeddings ? embed : R(0.3f, spec.VocabSize, d),
        };
        return new Transformer(spec, weights);
    }

    public static Tensor Tokens(int length, int seed = 5, int batch = 1)
    {
        var rng = new Random(seed);
        return torch.tensor(Enumerable.Range(0, batch * length).Select(_ => (long)rng.Next(1, 64)).ToArray()).view(batch, length);
    }

    private static ModelSpec Base(string arch) => new()
    {
        Architecture = arch, Layers = 2, Dim = 32, Heads = 4, KvHeads = 4, HeadDim = 8, FfnDim = 64, VocabSize = 64, ContextLength = 64,
    };

    private sealed class Generator(int seed)
    {
        public TorchSharp.torch.Generator Torch { get; } = new TorchSharp.torch.Generator((ulong)seed);
    }
}
