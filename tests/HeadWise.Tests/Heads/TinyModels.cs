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
        var layers = Enumerable.Range(0, spec.Layers).Select(_ =>
        {
            var t = new Dictionary<string, Tensor>
            {
                ["attn_q.weight"] = R(2f / MathF.Sqrt(d), spec.QDim, d), ["attn_k.weight"] = R(2f / MathF.Sqrt(d), spec.KvDim, d),
                ["attn_v.weight"] = R(1f / MathF.Sqrt(d), spec.KvDim, d), ["attn_output.weight"] = R(1f / MathF.Sqrt(spec.QDim), d, spec.QDim),
                ["ffn_up.weight"] = R(1f / MathF.Sqrt(d), f, d), ["ffn_down.weight"] = R(1f / MathF.Sqrt(f), d, f),
            };
            // Post-norm (BERT) blocks end each sublayer in a LayerNorm; the others normalise before it.
            string attnNorm = spec.PostNorm ? "attn_output_norm" : "attn_norm", ffnNorm = spec.PostNorm ? "layer_output_norm" : "ffn_norm";
            t[attnNorm + ".weight"] = Gain();
            t[ffnNorm + ".weight"] = Gain();
            if (layerNorm) { t[attnNorm + ".bias"] = R(0.1f, d); t[ffnNorm + ".bias"] = R(0.1f, d); t["ffn_up.bias"] = R(0.1f, f); t["ffn_down.bias"] = R(0.1f, d); }
            if (biases) { t["attn_q.bias"] = R(0.1f, spec.QDim); t["attn_k.bias"] = R(0.1f, spec.KvDim); t["attn_v.bias"] = R(0.1f, spec.KvDim); }
            if (family is "gpt2" or "bert") t["attn_output.bias"] = R(0.1f, d);
            if (spec.QkNorm) { t["attn_q_norm.weight"] = (1 + R(0.1f, spec.HeadDim)).DetachFromDisposeScope(); t["attn_k_norm.weight"] = (1 + R(0.1f, spec.HeadDim)).DetachFromDisposeScope(); }
            if (spec.FeedForward == FeedForwardKind.SwiGlu) t["ffn_gate.weight"] = R(1f / MathF.Sqrt(d), f, d);
            return new LayerWeights(t);
        }).ToList();
        var global = new Dictionary<string, Tensor> { ["token_embd.weight"] = R(1f, spec.VocabSize, d) };
        if (spec.Positions == PositionKind.Learned) global["position_embd.weight"] = R(0.3f, spec.ContextLength, d);
        if (spec.PostNorm) { global["token_embd_norm.weight"] = Gain(); global["token_embd_norm.bias"] = R(0.1f, d); }
        else
        {
            global["output_norm.weight"] = Gain();
            if (layerNorm) global["output_norm.bias"] = R(0.1f, d);
        }
        if (spec.Causal && !spec.TiedEmbeddings) global["output.weight"] = R(0.3f, spec.VocabSize, d);
        var weights = new ModelWeights(global, layers);
        return new Transformer(spec, weights);
    }

    /// <summary>The same model with its matrices in bf16 (vectors float32), computing in bf16, as a bf16 load gives.</summary>
    public static Transformer BuildBf16(string family, int seed = 11)
    {
        using var f32 = Build(family, seed);
        var weights = f32.Weights.Select((_, t) => (t.dim() >= 2 ? t.to(ScalarType.BFloat16) : t.clone()).DetachFromDisposeScope());
        return new Transformer(f32.Spec with { Compute = ComputeDType.BF16 }, weights);
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
