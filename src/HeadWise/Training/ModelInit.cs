using HeadWise.Models;
using HeadWise.Models.Variants;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HeadWise.Training;

/// <summary>The architecture a <see cref="TrainConfig"/> describes, and freshly initialised trainable weights for it.</summary>
internal static class ModelInit
{
    /// <summary>Llama: RMSNorm, SwiGLU, RoPE in the interleaved layout GGUF "llama" stores (no permutation on export), untied output.</summary>
    /// <summary>SQA keeps the head size dim / heads but has only its query heads (and, by default, as many KV heads).</summary>
    public static ModelSpec Spec(TrainConfig c, int vocabSize) => new()
    {
        Architecture = "llama",
        Name = c.Name,
        Layers = c.Layers,
        Dim = c.Dim,
        Heads = c.Attention is SparseQueryAttention sqa ? sqa.QueryHeads : c.Heads,
        KvHeads = c.Attention is SparseQueryAttention q && c.KvHeads == 0 ? q.QueryHeads : c.EffectiveKvHeads,
        HeadDim = c.Dim / c.Heads,
        Attention = c.Attention,
        FfnDim = c.FfnDim,
        VocabSize = vocabSize,
        ContextLength = c.Context,
        NormEps = 1e-5,
        Rope = RopeLayout.Interleaved,
        RopeTheta = c.RopeTheta,
    };

    /// <summary>
    /// GPT-2's initialisation: N(0, 0.02) for every matrix, with the two projections that write into the residual
    /// stream (attention output, FFN down) scaled by 1/sqrt(2 layers); norms at 1. Deterministic given the seed.
    /// </summary>
    public static ModelWeights Random(ModelSpec spec, int seed, double embeddingOffset = 0)
    {
        Runtime.Torch.EnsureStarted();
        torch.manual_seed(seed);
        const double std = 0.02;
        double residualStd = std / Math.Sqrt(2.0 * spec.Layers);
        Parameter Normal(double s, params long[] shape) => new(torch.randn(shape) * s, requires_grad: true);
        Parameter Ones(long n) => new(torch.ones(n), requires_grad: true);
        int d = spec.Dim, f = spec.FfnDim;
        var embed = Normal(std, spec.VocabSize, d);
        if (embeddingOffset > 0)
            using (torch.no_grad())
            {
                using var u = torch.randn(d);
                embed.add_(u * (embeddingOffset / u.norm().item<float>()));
            }
        var layers = new List<LayerWeights>();
        for (int l = 0; l < spec.Layers; l++)
        {
            var tensors = new Dictionary<string, Tensor>
            {
                ["attn_norm.weight"] = Ones(d),
                ["attn_q.weight"] = Normal(std, spec.QDim, d),
                ["attn_k.weight"] = Normal(std, spec.KvDim, d),
                ["attn_v.weight"] = Normal(std, spec.KvDim, d),
                ["attn_output.weight"] = Normal(residualStd, d, spec.QDim),
            };
            // A variant's own parameters (MoH's routers), in the layout's order, right after the attention's.
            foreach (var (local, _, shape) in spec.Attention?.LayerTensors(spec) ?? [])
                tensors[local] = Normal(std, shape);
            tensors["ffn_norm.weight"] = Ones(d);
            tensors["ffn_gate.weight"] = Normal(std, f, d);
            tensors["ffn_up.weight"] = Normal(std, f, d);
            tensors["ffn_down.weight"] = Normal(residualStd, d, f);
            layers.Add(new LayerWeights(tensors));
        }
        return new ModelWeights(new Dictionary<string, Tensor>
        {
            ["token_embd.weight"] = embed, ["output_norm.weight"] = Ones(d), ["output.weight"] = Normal(std, spec.VocabSize, d),
        }, layers);
    }
}
